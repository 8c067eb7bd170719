// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function AlertPage(_: PageProps) {
  return <Page title="AlertPage">Not built yet.</Page>;
}

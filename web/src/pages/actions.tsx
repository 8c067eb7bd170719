// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function ActionCenterPage(_: PageProps) {
  return <Page title="ActionCenterPage">Not built yet.</Page>;
}

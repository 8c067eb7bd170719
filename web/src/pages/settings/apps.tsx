// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../../components/Page";
import type { PageProps } from "../../routes";

export function AppsPage(_: PageProps) {
  return <Page title="AppsPage">Not built yet.</Page>;
}

// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function AlertsPage(_: PageProps) {
  return <Page title="AlertsPage">Not built yet.</Page>;
}

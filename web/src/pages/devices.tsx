// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function DevicesPage(_: PageProps) {
  return <Page title="DevicesPage">Not built yet.</Page>;
}

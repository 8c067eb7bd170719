// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function DevicePage(_: PageProps) {
  return <Page title="DevicePage">Not built yet.</Page>;
}

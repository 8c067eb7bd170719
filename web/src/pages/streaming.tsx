// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function StreamingPage(_: PageProps) {
  return <Page title="StreamingPage">Not built yet.</Page>;
}

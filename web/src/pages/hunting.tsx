// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function HuntingPage(_: PageProps) {
  return <Page title="HuntingPage">Not built yet.</Page>;
}

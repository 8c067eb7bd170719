// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function IndicatorsPage(_: PageProps) {
  return <Page title="IndicatorsPage">Not built yet.</Page>;
}

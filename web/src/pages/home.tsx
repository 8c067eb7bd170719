// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function HomePage(_: PageProps) {
  return <Page title="HomePage">Not built yet.</Page>;
}

// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../../components/Page";
import type { PageProps } from "../../routes";

export function RolesPage(_: PageProps) {
  return <Page title="RolesPage">Not built yet.</Page>;
}

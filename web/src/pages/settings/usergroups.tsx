// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../../components/Page";
import type { PageProps } from "../../routes";

export function UserGroupsPage(_: PageProps) {
  return <Page title="UserGroupsPage">Not built yet.</Page>;
}

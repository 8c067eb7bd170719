// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../../components/Page";
import type { PageProps } from "../../routes";

export function DeviceGroupsPage(_: PageProps) {
  return <Page title="DeviceGroupsPage">Not built yet.</Page>;
}

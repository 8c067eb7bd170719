// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../../components/Page";
import type { PageProps } from "../../routes";

export function AuditPage(_: PageProps) {
  return <Page title="AuditPage">Not built yet.</Page>;
}

// PLACEHOLDER: replaced by the real screen before this issue closes.
import { Page } from "../components/Page";
import type { PageProps } from "../routes";

export function OnboardingPage(_: PageProps) {
  return <Page title="OnboardingPage">Not built yet.</Page>;
}

import { render } from "preact";
import "./styles.css";
import { App } from "./app";
import { completeSignIn } from "./auth/session";
import { navigate } from "./router";

async function start() {
  let error: string | undefined;
  try {
    const returnTo = await completeSignIn();
    if (returnTo) navigate(returnTo, true);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  render(<App signInError={error} />, document.getElementById("app")!);
}

start();

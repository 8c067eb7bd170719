// Onboarding: the signed onboarding package for Linux devices (GET /api/onboarding/package, a shell
// script, WardOnboarding.sh, that installs a systemd unit running ward-sensor with the package as
// its configuration), how to run it, and the enrollment keys that sign packages
// (/api/onboarding/enrollmentkeys: list, expire, revoke). A package is signed with the newest key
// that has at least 30 days left; the server makes a new key when none has, so downloading a
// package after revoking every key creates a fresh one.
import { useState } from "preact/hooks";
import { apiBlob, apiGet, apiSend, type ODataList } from "../api/client";
import { ConfirmDialog } from "../components/Dialog";
import { formatTime } from "../components/DataGrid";
import { Badge, Card, download, Page } from "../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../components/States";
import type { PageProps } from "../routes";
import { CopyButton } from "./configure/kit";

interface EnrollmentKey {
  id: string;
  createdDateTime: string;
  expirationDateTime: string;
  revoked: boolean;
  status: "Active" | "Expired" | "Revoked";
}

const installCommand = "sudo sh WardOnboarding.sh";
const checkCommand = "systemctl status ward-sensor";

export function OnboardingPage(_: PageProps) {
  const keys = useAsync(() => apiGet<ODataList<EnrollmentKey>>("/api/onboarding/enrollmentkeys?$orderby=createdDateTime desc"), []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [downloaded, setDownloaded] = useState<string | null>(null);
  const [changing, setChanging] = useState<{ key: EnrollmentKey; verb: "revoke" | "expire" } | null>(null);

  const getPackage = async () => {
    setBusy(true);
    setError(null);
    try {
      const blob = await apiBlob("/api/onboarding/package?platform=linux");
      download("WardOnboarding.sh", blob, "application/x-sh");
      setDownloaded(new Date().toISOString());
      keys.reload(); // the first download creates a key
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Onboarding" subtitle="Onboard Linux devices: download the signed package and run it on each device.">
      <div class="cards cfg-cards-gap">
        <Card title="1. Download the onboarding package">
          <p>
            The package is a shell script signed for this organisation. It holds the server's address and certificate fingerprint and an enrollment key id; the device enrolls
            with it and gets its own credential.
          </p>
          <div class="toolbar">
            <label class="field">
              Operating system
              <select disabled aria-describedby="onb-os-note">
                <option>Linux</option>
              </select>
            </label>
            <button type="button" class="btn primary" data-testid="onboarding-download" disabled={busy} onClick={getPackage}>
              {busy ? "Preparing…" : "Download onboarding package"}
            </button>
          </div>
          <p id="onb-os-note" class="muted small">
            Linux is the platform this server onboards.
          </p>
          {downloaded && (
            <p role="status" data-testid="onboarding-downloaded">
              <Badge tone="succeeded">Downloaded</Badge> WardOnboarding.sh at {formatTime(downloaded)}.
            </p>
          )}
          {error !== null && <ErrorBox error={error} />}
        </Card>
        <Card title="2. Run it on the device">
          <ol class="cfg-steps">
            <li>
              Install the <code>ward-sensor</code> binary on the device (in the <code>PATH</code>, or at <code>/usr/local/bin/ward-sensor</code>).
            </li>
            <li>
              Copy <code>WardOnboarding.sh</code> to the device and run it as root:
              <div class="cfg-code-row">
                <pre class="cfg-pre" data-testid="onboarding-command">{installCommand}</pre>
                <CopyButton text={installCommand} testId="onboarding-copy" />
              </div>
              It keeps the package in <code>/etc/ward/onboarding.sh</code>, state in <code>/var/lib/ward-sensor</code>, and starts the sensor as the systemd service{" "}
              <code>ward-sensor</code> (without systemd it starts it in the background, logging to <code>/var/log/ward-sensor.log</code>).
            </li>
            <li>
              Check that it runs:
              <div class="cfg-code-row">
                <pre class="cfg-pre">{checkCommand}</pre>
                <CopyButton text={checkCommand} />
              </div>
              The device appears in the device inventory within a minute, in the device group its name, domain, tags and OS place it in.
            </li>
          </ol>
        </Card>
      </div>

      <Card
        title="Enrollment keys"
        actions={
          <button type="button" class="btn small" onClick={keys.reload}>
            Refresh
          </button>
        }
      >
        <p class="muted">
          Each package is signed with an enrollment key. Expire or revoke a key to stop new devices from enrolling with packages signed by it; devices already onboarded keep their
          own credentials. The next download creates a new key if no active one has at least 30 days left.
        </p>
        {keys.error ? (
          <ErrorBox error={keys.error} retry={keys.reload} />
        ) : keys.data === undefined ? (
          <Loading what="Loading enrollment keys" />
        ) : keys.data.value.length === 0 ? (
          <Empty>No enrollment key yet; downloading a package creates one.</Empty>
        ) : (
          <table class="simple" data-testid="enrollment-keys">
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="skip">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.value.map((k) => (
                <tr key={k.id}>
                  <td class="mono">{k.id}</td>
                  <td>
                    <Badge tone={k.status}>{k.status}</Badge>
                  </td>
                  <td>{formatTime(k.createdDateTime)}</td>
                  <td>{formatTime(k.expirationDateTime)}</td>
                  <td>
                    {k.status === "Active" && (
                      <div class="cfg-actions-cell">
                        <button type="button" class="btn small" onClick={() => setChanging({ key: k, verb: "expire" })}>
                          Expire now
                        </button>
                        <button type="button" class="btn small danger" data-testid={`enrollment-revoke-${k.id}`} onClick={() => setChanging({ key: k, verb: "revoke" })}>
                          Revoke
                        </button>
                      </div>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {changing && (
        <ConfirmDialog
          title={changing.verb === "revoke" ? "Revoke enrollment key" : "Expire enrollment key"}
          confirmLabel={changing.verb === "revoke" ? "Revoke" : "Expire now"}
          danger
          onClose={() => setChanging(null)}
          onConfirm={async () => {
            await apiSend("POST", `/api/onboarding/enrollmentkeys/${encodeURIComponent(changing.key.id)}/${changing.verb}`);
            keys.reload();
          }}
        >
          <p>
            Packages signed with key <code>{changing.key.id}</code> will no longer enroll new devices. Onboarded devices are not affected.
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

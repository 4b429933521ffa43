// The purpose dialog: before an act on personal data, why (purpose), under which law (legal
// basis) and for which case. The act is sent, and logged by the node, with what it declares.
import { session } from "./api.js";

/// Asks, in a modal dialog, for the purpose, legal basis and case of one act (a search, a
/// query, an audit export); resolves to them, or null when cancelled.
export function askPurpose(preset = null) {
  const dialog = document.getElementById("purpose-dialog");
  const form = dialog.querySelector("form");
  const s = session();
  const select = document.getElementById("pd-purpose");
  if (!select.options.length) {
    for (const o of document.getElementById("purpose").options) select.append(o.cloneNode(true));
  }
  const p = preset ?? s?.purpose;
  if (p) {
    select.value = p.purpose;
    form.legal_basis.value = p.legal_basis ?? s?.purpose?.legal_basis ?? "";
    form.case.value = p.case_ref ?? "";
  }
  return new Promise((resolve) => {
    const done = (value) => {
      form.onsubmit = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(value);
    };
    form.onsubmit = (ev) => {
      ev.preventDefault();
      if (!form.legal_basis.value.trim()) {
        form.legal_basis.focus();
        return;
      }
      done({ purpose: select.value, legal_basis: form.legal_basis.value.trim(), case_ref: form.case.value.trim() || null });
    };
    dialog.querySelector("button.cancel").onclick = () => done(null);
    dialog.onclose = () => done(null);
    dialog.showModal();
  });
}

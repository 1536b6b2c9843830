// telco-mcp approvals: the passkey step of a form, and nothing else (served same-origin; CSP script-src 'self').
// A form marked data-passkey-get carries the request options for exactly this approval (or sign-in); one marked
// data-passkey-bulk asks the page for options over the approvals ticked; data-passkey-create enrols a passkey.
// The browser's own JSON helpers do every encoding: no hand-written base64.
"use strict";

function say(form, text) {
  let box = form.querySelector(".passkey-error");
  if (!box) {
    box = document.createElement("p");
    box.className = "error passkey-error";
    box.setAttribute("role", "alert");
    form.prepend(box);
  }
  box.textContent = text;
}

async function requestOptions(form) {
  if (form.dataset.passkeyGet) {
    return JSON.parse(form.dataset.passkeyGet);
  }
  const body = new URLSearchParams(new FormData(form));
  const answer = await fetch(form.dataset.passkeyBulk, {
    method: "POST",
    body: body,
    credentials: "same-origin",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (!answer.ok) {
    throw new Error((await answer.text()) || "the page refused to prepare the passkey request");
  }
  return answer.json();
}

async function prove(form) {
  if (form.dataset.passkeyCreate) {
    const options = PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(form.dataset.passkeyCreate));
    const created = await navigator.credentials.create({ publicKey: options });
    form.elements.namedItem("registration").value = JSON.stringify(created.toJSON());
  }
  if (form.dataset.passkeyGet || form.dataset.passkeyBulk) {
    const options = PublicKeyCredential.parseRequestOptionsFromJSON(await requestOptions(form));
    const asserted = await navigator.credentials.get({ publicKey: options });
    form.elements.namedItem("credential").value = JSON.stringify(asserted.toJSON());
  }
}

for (const form of document.querySelectorAll("form[data-passkey-get], form[data-passkey-bulk], form[data-passkey-create]")) {
  form.addEventListener("submit", async (event) => {
    const button = event.submitter;
    if (form.dataset.proven === "1" || !button || !button.hasAttribute("data-passkey-button")) {
      return; // Deny and other buttons need no passkey
    }
    event.preventDefault();
    try {
      await prove(form);
    } catch (error) {
      say(form, "No passkey was used: " + (error && error.message ? error.message : error));
      return;
    }
    form.dataset.proven = "1";
    form.requestSubmit(button);
  });
}

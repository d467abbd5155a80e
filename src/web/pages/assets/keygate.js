// keygate's pages: the sign-in steps over the JSON API (password, then the
// security key through WebAuthn, or a recovery code). No framework, no build.
"use strict";

(function () {
  const main = document.querySelector("main[data-for]");
  if (!main) return;
  const forRequest = JSON.parse(main.dataset.for);
  const $ = (id) => document.getElementById(id);
  let login = null;

  class ApiError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (_) {
      // An empty or non-JSON answer: the status says enough.
    }
    if (!response.ok) {
      const error = data.error || {};
      throw new ApiError(error.message || "The server answered " + response.status + ".", error.code);
    }
    return data;
  }

  function say(id, message) {
    const element = $(id);
    element.textContent = message || "";
    const field = element.closest(".field");
    const input = field && field.querySelector("input");
    if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function busy(form, on) {
    for (const button of form.querySelectorAll("button")) button.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  function show(step) {
    for (const id of ["password-step", "key-step", "recovery-step"]) $(id).hidden = id !== step;
  }

  function finish(result) {
    show(null);
    const status = $("done-status");
    status.hidden = false;
    status.textContent = "Signed in. Returning to the application…";
    window.location.assign(result.redirect_to || "/login.php/done");
  }

  // WebAuthn JSON helpers, where the browser lacks the static parsers.
  const fromB64 = (text) =>
    Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
  const toB64 = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64(json.challenge),
      allowCredentials: json.allowCredentials.map((c) => Object.assign({}, c, { id: fromB64(c.id) })),
    });
  }

  function credentialJson(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    return {
      id: credential.id,
      rawId: toB64(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64(credential.response.clientDataJSON),
        authenticatorData: toB64(credential.response.authenticatorData),
        signature: toB64(credential.response.signature),
      },
      clientExtensionResults: {},
    };
  }

  async function touchKey() {
    $("key-retry").hidden = true;
    say("key-error", "");
    $("key-status").textContent = "Waiting for your key…";
    if (!window.PublicKeyCredential) {
      say("key-error", "This browser cannot use security keys. Use a recovery code instead.");
      return;
    }
    try {
      const credential = await navigator.credentials.get({ publicKey: requestOptions(login.publicKey) });
      $("key-status").textContent = "Checking…";
      finish(await api("/api/v1/login/webauthn", { login_id: login.login_id, credential: credentialJson(credential) }));
    } catch (error) {
      $("key-status").textContent = "";
      if (error.name === "NotAllowedError" || error.name === "AbortError") {
        say("key-error", "The key was not touched in time, or the request was cancelled.");
      } else if (error.code === "possible_clone") {
        say("key-error", "This key was refused: its signature counter went backwards, so it may have been copied. Contact your administrator.");
        return; // Trying the same key again cannot help.
      } else if (error.code === "unknown_key") {
        say("key-error", "This key is not registered for your account. Try another key.");
      } else if (error.code === "challenge_expired" || error.code === "unknown_login" || error.code === "challenge_used") {
        say("key-error", "The sign-in took too long. Start again with your password.");
        show("password-step");
        return;
      } else {
        say("key-error", error.message);
      }
      $("key-retry").hidden = false;
      $("key-retry").focus();
    }
  }

  $("password-step").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const username = $("username").value.trim();
    const password = $("password").value;
    say("username-error", username ? "" : "Enter your user name.");
    say("password-error", password ? "" : "Enter your password.");
    if (!username || !password) return;
    busy(form, true);
    try {
      login = await api("/api/v1/login", { username: username, password: password, for: forRequest });
      show("key-step");
      await touchKey();
    } catch (error) {
      if (error.code === "enroll_only") {
        say("password-error", "Your account has no security key yet. Add one before signing in to applications.");
      } else {
        say("password-error", error.message);
      }
      $("password").focus();
    } finally {
      busy(form, false);
    }
  });

  $("key-retry").addEventListener("click", touchKey);
  $("use-recovery").addEventListener("click", () => {
    show("recovery-step");
    $("recovery-code").focus();
  });

  $("recovery-step").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const code = $("recovery-code").value.trim();
    say("recovery-error", code ? "" : "Enter one of your recovery codes.");
    if (!code) return;
    busy(form, true);
    try {
      finish(await api("/api/v1/login/recovery", { login_id: login.login_id, code: code }));
    } catch (error) {
      say("recovery-error", error.message);
      $("recovery-code").focus();
    } finally {
      busy(form, false);
    }
  });
})();

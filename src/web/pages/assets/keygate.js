// keygate's pages: the sign-in steps over the JSON API (password, then the
// security key through WebAuthn, or a recovery code). No framework, no build.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]');

  class ApiError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  // Every call carries the page's CSRF token: with it the server may use
  // (and set) the session cookie.
  async function api(path, body, method) {
    const headers = { "X-CSRF-Token": csrf ? csrf.content : "" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: method || "POST",
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
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

  // WebAuthn JSON helpers, where the browser lacks the static parsers.
  const fromB64 = (text) =>
    Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
  const toB64 = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64(json.challenge),
      user: Object.assign({}, json.user, { id: fromB64(json.user.id) }),
      excludeCredentials: (json.excludeCredentials || []).map((c) => Object.assign({}, c, { id: fromB64(c.id) })),
    });
  }

  // PublicKeyCredential.toJSON(), where the browser lacks it: the response
  // fields named in `binary` as websafe base64.
  function publicKeyJson(credential, binary, extra) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const response = Object.assign({}, extra);
    for (const name of binary) response[name] = toB64(credential.response[name]);
    return {
      id: credential.id,
      rawId: toB64(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: {},
    };
  }

  const registrationJson = (credential) =>
    publicKeyJson(credential, ["clientDataJSON", "attestationObject"], {
      transports: credential.response.getTransports ? credential.response.getTransports() : [],
    });

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64(json.challenge),
      allowCredentials: json.allowCredentials.map((c) => Object.assign({}, c, { id: fromB64(c.id) })),
    });
  }

  const credentialJson = (credential) =>
    publicKeyJson(credential, ["clientDataJSON", "authenticatorData", "signature"], {});

  // Adding a key, new recovery codes and removing the last key need a touch
  // of a registered key from the last five minutes: when the server asks
  // (reauth_required), the key confirms and the action runs once more.
  async function withStepUp(action, status) {
    try {
      return await action();
    } catch (error) {
      if (error.code !== "reauth_required") throw error;
    }
    if (status) status.textContent = "Confirm with a security key you already registered…";
    const start = await api("/api/v1/reauth");
    const credential = await navigator.credentials.get({ publicKey: requestOptions(start.publicKey) });
    await api("/api/v1/reauth/webauthn", { login_id: start.login_id, credential: credentialJson(credential) });
    if (status) status.textContent = "";
    return action();
  }

  const main = document.querySelector("main[data-for]");
  if (main) signIn(main);
  const account = $("account");
  if (account) manage(account);

  function signIn(main) {
    const forRequest = JSON.parse(main.dataset.for);
    let login = null;

    function show(step) {
      for (const id of ["password-step", "key-step", "recovery-step"]) $(id).hidden = id !== step;
    }

    function finish(result) {
      show(null);
      const status = $("done-status");
      status.hidden = false;
      status.textContent = "Signed in. Returning to the application…";
      window.location.assign(result.redirect_to || (forRequest ? "/login.php/done" : "/account"));
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
          say("key-error", "No registered key answered: it was not touched in time, the request was cancelled, or this key is not registered for your account.");
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
        const body = { username: username, password: password };
        if (forRequest) body.for = forRequest;
        login = await api("/api/v1/login", body);
        if (login.second_factor === "none") {
          window.location.assign("/account");  // a first key must be added
          return;
        }
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
  }

  function manage(account) {
    const status = $("account-status");
    const done = (message) => {
      sessionStorage.setItem("keygate-status", message);
      window.location.reload();
    };
    const remembered = sessionStorage.getItem("keygate-status");
    if (remembered) {
      status.textContent = remembered;
      sessionStorage.removeItem("keygate-status");
    }
    const fail = (error) => {
      status.textContent = error.message;
      status.classList.add("error");
    };

    $("add-key").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const name = $("new-key-name").value.trim();
      say("add-key-error", name ? "" : "Give the key a name.");
      if (!name) return;
      busy(form, true);
      try {
        const start = await withStepUp(() => api("/api/v1/keys/webauthn/register/start"), status);
        status.textContent = "Insert and touch your new security key…";
        const credential = await navigator.credentials.create({ publicKey: creationOptions(start.publicKey) });
        const key = await api("/api/v1/keys/webauthn/register/finish", {
          credential: registrationJson(credential),
          name: name,
        });
        if (key.recovery_codes) {
          showCodes(key.recovery_codes, "Key added. Save these recovery codes now: they are shown only once.");
          return;
        }
        done("Key “" + key.name + "” added.");
      } catch (error) {
        status.textContent = "";
        if (error.name === "NotAllowedError" || error.name === "AbortError") {
          say("add-key-error", "The key was not touched in time, or the request was cancelled.");
        } else if (error.name === "InvalidStateError") {
          say("add-key-error", "This key is already registered.");
        } else {
          say("add-key-error", error.message);
        }
      } finally {
        busy(form, false);
      }
    });

    function showCodes(codes, message) {
      const list = $("codes");
      if (!list) {
        done(message);
        return;
      }
      list.replaceChildren(...codes.map((code) => {
        const item = document.createElement("li");
        item.textContent = code;
        return item;
      }));
      list.hidden = false;
      status.textContent = message;
      list.scrollIntoView({ block: "center" });
    }

    account.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const item = button.closest("li");
      try {
        if (button.dataset.action === "rename-key") {
          const name = window.prompt("New name for this key", item.dataset.keyName);
          if (!name || !name.trim()) return;
          await api("/api/v1/keys/" + item.dataset.keyId, { name: name.trim() }, "PATCH");
          done("Key renamed.");
        } else if (button.dataset.action === "remove-key") {
          if (!window.confirm("Remove the key “" + item.dataset.keyName + "”?")) return;
          await withStepUp(() => api("/api/v1/keys/" + item.dataset.keyId, undefined, "DELETE"), status);
          done("Key removed.");
        } else if (button.dataset.action === "end-session") {
          await api("/api/v1/sessions/" + item.dataset.sessionId, undefined, "DELETE");
          done("That session is signed out.");
        }
      } catch (error) {
        fail(error);
      }
    });

    const newCodes = $("new-codes");
    if (newCodes) {
      newCodes.addEventListener("click", async () => {
        try {
          const answer = await withStepUp(() => api("/api/v1/recovery-codes"), status);
          showCodes(answer.recovery_codes, "New recovery codes: save them now, they are shown only once. The old ones no longer work.");
        } catch (error) {
          fail(error);
        }
      });
    }

    const passwordForm = $("password-form");
    if (passwordForm) {
      passwordForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        busy(passwordForm, true);
        try {
          await api("/api/v1/password", { old: $("old-password").value, new: $("new-password").value });
          // Every session ended with the change, this one too.
          window.location.assign("/sign-in");
        } catch (error) {
          say("password-form-error", error.message);
        } finally {
          busy(passwordForm, false);
        }
      });
    }

    $("sign-out").addEventListener("click", async () => {
      try {
        await api("/api/v1/logout");
      } finally {
        window.location.assign("/sign-in");
      }
    });
  }
})();

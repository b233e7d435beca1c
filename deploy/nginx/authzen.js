// An AuthZEN 1.0 policy enforcement point for nginx (njs), in the shape of the OpenID
// AuthZEN interop "API gateway" scenario: every request through the gateway is one
// evaluation, asked of Limen before the request goes upstream.
//
//   subject   {"type": "identity", "id": <the bearer JWT's sub>}
//   action    {"name": <the HTTP method>}
//   resource  {"type": "route", "id": <the OpenAPI path template the request matched>,
//              "properties": {uri, schema, hostname, path, params, ip}}
//
// Allowed: 200 (nginx passes the request on). Denied, no bearer, or a path no route
// matches: 403. Limen unreachable or answering an error: 500 (nginx fails closed).
//
// As in the interop scenario, the bearer is the IdP's token and its `sub` is read, not
// verified: put the token's verification in front of this (the IdP's gateway plugin, or
// Limen's own tokens sent in `context.token`, which Limen verifies). See docs/policy.md.
//
// Environment (declared with `env` in nginx.conf): LIMEN_URL, and LIMEN_PEP_TOKEN, a Limen
// token allowed `access.evaluate` (scope `access:evaluate`). Never put the token in a file.

// The application's routes, as its OpenAPI document names them.
const ROUTES = ["/users/{userId}", "/todos", "/todos/{todoId}"];

function match(path) {
    const parts = path.split("/");
    for (let n = 0; n < ROUTES.length; n++) {  // njs 0.7 (Debian 12) has no for...of
        const template = ROUTES[n];
        const want = template.split("/");
        if (want.length !== parts.length) {
            continue;
        }
        const params = {};
        let ok = true;
        for (let i = 0; i < want.length && ok; i++) {
            const name = /^\{(\w+)\}$/.exec(want[i]);
            if (name) {
                ok = parts[i].length > 0;
                params[name[1]] = ok ? decodeURIComponent(parts[i]) : "";
            } else {
                ok = want[i] === parts[i];
            }
        }
        if (ok) {
            return { route: template, params: params };
        }
    }
    return null;
}

function subjectOf(r) {
    const header = r.headersIn["Authorization"] || "";
    const jwt = /^Bearer [A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/.exec(header);
    if (!jwt) {
        return null;
    }
    try {
        const claims = JSON.parse(Buffer.from(jwt[1], "base64url").toString());
        return typeof claims.sub === "string" && claims.sub ? claims.sub : null;
    } catch (e) {
        return null;
    }
}

async function check(r) {
    // In the auth_request subrequest, $request_uri and $request_method are the client's.
    const path = r.variables.request_uri.split("?")[0];
    const matched = match(path);
    const subject = subjectOf(r);
    if (!matched || !subject) {
        r.return(403);
        return;
    }
    const scheme = r.variables.scheme;
    const host = r.variables.host;
    const evaluation = {
        subject: { type: "identity", id: subject },
        action: { name: r.variables.request_method },
        resource: {
            type: "route",
            id: matched.route,
            properties: {
                uri: scheme + "://" + host + path,
                schema: scheme,
                hostname: host,
                path: path,
                params: matched.params,
                ip: r.variables.remote_addr,
            },
        },
        context: {},
    };
    try {
        const reply = await ngx.fetch(process.env.LIMEN_URL + "/access/v1/evaluation", {
            method: "POST",
            headers: {
                "Content-Type": "application/json",
                Authorization: "Bearer " + process.env.LIMEN_PEP_TOKEN,
                "X-Request-ID": r.variables.request_id,
            },
            body: JSON.stringify(evaluation),
        });
        if (reply.status !== 200) {
            r.error("limen answered " + reply.status);
            r.return(500);
            return;
        }
        const decision = await reply.json();
        r.return(decision.decision === true ? 200 : 403);
    } catch (e) {
        r.error("limen unreachable: " + e);
        r.return(500);
    }
}

export default { check, match };

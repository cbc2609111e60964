// A partner's offline check of a talent code with npm `jose` (vendored in tests/vendor/jose, v6, MIT):
// node verify_talent_code.mjs <talent-code JWKS URL> <code without TC1:> → prints the claims, or the error code.
import { createRemoteJWKSet, jwtVerify } from "./vendor/jose/webapi/index.js";

const [url, token] = process.argv.slice(2);
try {
  const jwks = createRemoteJWKSet(new URL(url));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { algorithms: ["ES256"] });
  console.log(JSON.stringify({ ok: true, kid: protectedHeader.kid, claims: payload }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, code: error.code ?? error.name }));
}

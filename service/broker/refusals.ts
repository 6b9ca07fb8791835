/**
 * Why the broker turned a connection away, as a metric label. Handshake failures come from
 * OpenSSL's error codes; the rest from the broker's own checks after the handshake.
 */
export type RefusalReason =
  | "plaintext"
  | "no-certificate"
  | "untrusted"
  | "expired"
  | "handshake-timeout"
  | "handshake-failed"
  | "too-many-handshakes"
  | "too-many-from-source"
  | "hello-timeout"
  | "no-identity"
  | "foreign"
  | "superseded"
  | "inactive"
  | "no-route"
  | "builder-unreachable";

/**
 * `verifyError` is the socket's `authorizationError`: the OpenSSL verdict on the client's
 * certificate (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE…), which Node keeps on the socket
 * while the error it emits for the refused handshake only says "socket hang up".
 */
export function handshakeRefusal(
  err: { code?: string; message?: string },
  verifyError?: string | null,
): RefusalReason {
  if (verifyError) return /EXPIRED|NOT_YET_VALID/.test(verifyError) ? "expired" : "untrusted";
  const code = err.code ?? "";
  const text = `${code} ${err.message ?? ""}`;
  if (code === "ERR_TLS_HANDSHAKE_TIMEOUT") return "handshake-timeout";
  if (
    /HTTP_REQUEST|WRONG_VERSION_NUMBER|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LENGTH_MISMATCH/i.test(
      text,
    )
  ) {
    return "plaintext";
  }
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/i.test(text)) return "no-certificate";
  if (/EXPIRED|NOT_YET_VALID/i.test(text)) return "expired";
  if (
    /UNKNOWN_CA|VERIFY_FAILED|UNABLE_TO_GET_ISSUER|SELF_SIGNED|SIGNATURE_FAILURE|BAD_CERTIFICATE|LEAF_SIGNATURE/i.test(
      text,
    )
  ) {
    return "untrusted";
  }
  return "handshake-failed";
}

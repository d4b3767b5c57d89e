// Resource read errors with MCP's JSON-RPC codes: a resource that does not exist (an unknown
// URI, or a run loomcycle has no record of) is -32002 "Resource not found" with the URI in
// `data` (MCP, Resources: Error Handling); a URI that is not one (or names a malformed run
// id) is -32602, invalid params. The SDK passes a thrown error's numeric `code`, `message`
// and `data` through unchanged.

/** MCP's code for a resource that does not exist. */
export const RESOURCE_NOT_FOUND = -32002;
/** JSON-RPC's invalid params. */
export const INVALID_PARAMS = -32602;
/** JSON-RPC's internal error: loomcycle could not be asked. */
export const INTERNAL_ERROR = -32603;

export class ResourceError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ResourceError";
  }
}

/** -32002 "Resource not found", with the URI and what the bridge knows of why. */
export function resourceNotFound(uri: string, detail: string): ResourceError {
  return new ResourceError(RESOURCE_NOT_FOUND, "Resource not found", { uri, detail });
}

/** -32602 for a URI that is not one, or names something malformed. */
export function badResourceUri(uri: string, detail: string): ResourceError {
  return new ResourceError(INVALID_PARAMS, `Invalid resource URI: ${detail}`, { uri });
}

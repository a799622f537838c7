/** WSGITrustedProxyHeaders names a header as sent (X-Forwarded-For) or as the environ has it (HTTP_X_FORWARDED_FOR). */
export function proxyHeaderEnvironName(header: string): string {
  return header.toUpperCase().replace(/-/g, '_').replace(/^(HTTP_)?/, 'HTTP_');
}

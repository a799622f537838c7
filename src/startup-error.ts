/**
 * A problem that stops the server from starting: the message says what is wrong and what to do
 * about it, and the CLI prints it as one line and exits non-zero.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

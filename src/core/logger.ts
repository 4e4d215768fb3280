import { pino, type Logger } from 'pino';

/**
 * The relay's JSON logger. The relay never logs header values or tokens; the redaction
 * paths are a second line of defence should a request or a config object reach a log line.
 */
export function createLogger(
  level: string,
  destination: pino.DestinationStream = pino.destination(1),
): Logger {
  return pino(
    {
      level,
      base: { service: 'registry-relay' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'headers',
          '*.headers',
          'req.headers.authorization',
          'config.http.auth',
          '*.authorization',
          'tokens',
        ],
        censor: '<redacted>',
      },
    },
    destination,
  );
}

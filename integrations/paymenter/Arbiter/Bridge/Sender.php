<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

/** One signed attempt over HTTP, with PHP's own http stream (no curl or Guzzle needed). */
final class Sender
{
    public function __construct(
        private readonly Settings $settings,
        private readonly float $timeout = 15.0,
    ) {}

    /** Signs with $now (seconds since 1970), the time of this attempt, and posts the message's bytes as they are. */
    public function send(Message $message, int $now): Answer
    {
        return self::post($this->settings->url, $this->settings->signer->headers($message->id, $now, $message->body), $message->body, $this->timeout);
    }

    /** @param array<string, string> $headers */
    public static function post(string $url, array $headers, string $body, float $timeout): Answer
    {
        $lines = [];
        foreach ($headers as $name => $value) {
            $lines[] = "{$name}: {$value}";
        }
        $lines[] = 'user-agent: Arbiter-Paymenter/1.0';
        $lines[] = 'connection: close';
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => implode("\r\n", $lines),
            'content' => $body,
            'timeout' => $timeout,
            // An error status is an answer to read, not a failure to open.
            'ignore_errors' => true,
            // A redirect is answered as it is: the URL in the settings is wrong, and a POST must not silently move.
            'follow_location' => 0,
            'protocol_version' => 1.1,
        ]]);

        error_clear_last();
        $http_response_header = [];
        $response = @file_get_contents($url, false, $context);
        $received = function_exists('http_get_last_response_headers') ? (http_get_last_response_headers() ?? []) : $http_response_header;

        $status = null;
        foreach ($received as $line) {
            if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m) === 1) {
                $status = (int) $m[1];
            }
        }
        if ($status === null) {
            $error = error_get_last()['message'] ?? 'no HTTP answer';

            return new Answer(null, '', (string) preg_replace('/^file_get_contents\(.*?\):\s*/', '', $error));
        }

        return new Answer($status, $response === false ? '' : $response);
    }
}

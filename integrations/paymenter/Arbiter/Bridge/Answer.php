<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

/** What one attempt got back: Arbiter's HTTP status and body, or no answer at all (status null) and why. */
final class Answer
{
    public function __construct(
        public readonly ?int $status,
        public readonly string $body,
        public readonly ?string $error = null,
    ) {}

    /** "HTTP 422: {...}" or "no answer: Connection refused", on one line, the body cut to $max bytes. */
    public function summary(int $max = 500): string
    {
        if ($this->status === null) {
            return 'no answer: ' . self::oneLine((string) $this->error, $max);
        }
        $body = self::oneLine($this->body, $max);

        return "HTTP {$this->status}" . ($body === '' ? '' : ": {$body}");
    }

    public static function oneLine(string $text, int $max): string
    {
        $text = trim((string) preg_replace('/[\x00-\x1F\x7F]+/', ' ', $text));
        if (strlen($text) <= $max) {
            return $text;
        }
        // Cut at a character boundary so the log line stays valid UTF-8.
        $cut = substr($text, 0, $max);
        while ($cut !== '' && preg_match('//u', $cut) !== 1) {
            $cut = substr($cut, 0, -1);
        }

        return $cut . '… (' . strlen($text) . ' bytes)';
    }
}

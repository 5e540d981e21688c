<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

use InvalidArgumentException;

/**
 * Standard Webhooks signatures as Arbiter checks them: webhook-signature is "v1," and the base64 HMAC-SHA256 of
 * "id.timestamp.body", keyed with the base64-decoded part of a whsec_ secret.
 */
final class Signer
{
    private string $key;

    public function __construct(string $secret)
    {
        $this->key = self::key($secret);
    }

    /** The HMAC key of a whsec_ secret. Messages say what is wrong and never repeat the secret. */
    public static function key(string $secret): string
    {
        $secret = trim($secret);
        if (!str_starts_with($secret, 'whsec_')) {
            throw new InvalidArgumentException('must start with whsec_ (make one with: echo "whsec_$(openssl rand -base64 32)")');
        }
        $encoded = substr($secret, strlen('whsec_'));
        $key = base64_decode($encoded, true);
        // Exact base64 is the only text that encodes back to itself; Arbiter reads the secret the same way.
        if ($key === false || base64_encode($key) !== $encoded) {
            throw new InvalidArgumentException('after whsec_ must come standard base64: A-Z a-z 0-9 + / only, padded with = to a multiple of 4 characters');
        }
        if (strlen($key) < 16) {
            throw new InvalidArgumentException('must decode to at least 16 bytes after whsec_ (openssl rand -base64 32 gives 32)');
        }

        return $key;
    }

    public function signature(string $id, int $timestamp, string $body): string
    {
        return 'v1,' . base64_encode(hash_hmac('sha256', $id . '.' . $timestamp . '.' . $body, $this->key, true));
    }

    /** @return array<string, string> the headers of one attempt made at $timestamp (seconds since 1970) */
    public function headers(string $id, int $timestamp, string $body): array
    {
        if (preg_match('/^[^\s.]{1,255}$/', $id) !== 1) {
            throw new InvalidArgumentException('a webhook-id must be 1 to 255 characters without spaces or dots');
        }

        return [
            'content-type' => 'application/json',
            'webhook-id' => $id,
            'webhook-timestamp' => (string) $timestamp,
            'webhook-signature' => $this->signature($id, $timestamp, $body),
        ];
    }

    public function __debugInfo(): array
    {
        return ['key' => '(hidden)'];
    }
}

<?php

declare(strict_types=1);

/*
 * Sends one service change to Arbiter the way the extension's job does, with the same Bridge classes, and prints
 * what happened as JSON. The secret comes from the environment (ARBITER_SECRET), never from the command line.
 *
 *   ARBITER_SECRET=whsec_... php send.php '{"url": "...", "tiers": "7=awakened", "at": "2026-12-01T15:33:24Z",
 *     "change": {"kind": "updated", "from": "pending", "to": "active"},
 *     "service": {"id": "42", "product_id": "7", "product_slug": null, "email": "a@example.com", "name": "Ada"}}'
 *
 * Exit status: 0 delivered (or nothing to send), 1 to be retried, 2 permanent failure, 64 bad input.
 */

require __DIR__ . '/bootstrap.php';

use Paymenter\Extensions\Others\Arbiter\Bridge\Change;
use Paymenter\Extensions\Others\Arbiter\Bridge\Delivery;
use Paymenter\Extensions\Others\Arbiter\Bridge\EventMapper;
use Paymenter\Extensions\Others\Arbiter\Bridge\Payload;
use Paymenter\Extensions\Others\Arbiter\Bridge\Sender;
use Paymenter\Extensions\Others\Arbiter\Bridge\ServiceState;
use Paymenter\Extensions\Others\Arbiter\Bridge\Settings;

function finish(array $result, int $code): never
{
    echo json_encode($result, Payload::JSON_FLAGS), "\n";
    exit($code);
}

try {
    $input = json_decode($argv[1] ?? '', true, 16, JSON_THROW_ON_ERROR);
    $settings = Settings::fromArray([
        'url' => $input['url'] ?? '',
        'secret' => getenv('ARBITER_SECRET') ?: '',
        'tiers' => $input['tiers'] ?? null,
        'events' => $input['events'] ?? null,
    ]);
    $change = Change::fromArray($input['change']);
    $s = $input['service'];
    $service = new ServiceState((string) $s['id'], isset($s['product_id']) ? (string) $s['product_id'] : null, $s['product_slug'] ?? null, (string) $s['email'], (string) $s['name']);
    $at = new DateTimeImmutable($input['at']);
} catch (Throwable $e) {
    finish(['error' => $e->getMessage()], 64);
}

$event = EventMapper::map($change);
if ($event === null || !$settings->sends($event)) {
    finish(['event' => $event, 'sent' => false], 0);
}
$tier = $settings->tiers->tierFor($service->productId, $service->productSlug);
if ($tier === null) {
    finish(['event' => $event, 'sent' => false, 'error' => "product {$service->productId} has no tier: map it, or give it a slug"], 0);
}

$message = Payload::message($event, $service, $tier, $at);
$answer = (new Sender($settings))->send($message, time());
$verdict = Delivery::verdict($answer);
finish([
    'event' => $event,
    'sent' => true,
    'id' => $message->id,
    'status' => $answer->status,
    'body' => $answer->body,
    'verdict' => $verdict,
    'summary' => Delivery::describe($message, $answer),
], ['done' => 0, 'retry' => 1, 'permanent' => 2][$verdict]);

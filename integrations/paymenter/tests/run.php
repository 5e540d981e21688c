<?php

declare(strict_types=1);

// The extension's plain PHP part (Bridge), tested with php-cli alone: php integrations/paymenter/tests/run.php

require __DIR__ . '/bootstrap.php';

use Paymenter\Extensions\Others\Arbiter\Bridge\Answer;
use Paymenter\Extensions\Others\Arbiter\Bridge\Change;
use Paymenter\Extensions\Others\Arbiter\Bridge\Delivery;
use Paymenter\Extensions\Others\Arbiter\Bridge\EventMapper;
use Paymenter\Extensions\Others\Arbiter\Bridge\Message;
use Paymenter\Extensions\Others\Arbiter\Bridge\Payload;
use Paymenter\Extensions\Others\Arbiter\Bridge\Sender;
use Paymenter\Extensions\Others\Arbiter\Bridge\ServiceState;
use Paymenter\Extensions\Others\Arbiter\Bridge\Settings;
use Paymenter\Extensions\Others\Arbiter\Bridge\Signer;
use Paymenter\Extensions\Others\Arbiter\Bridge\TestEvent;
use Paymenter\Extensions\Others\Arbiter\Bridge\TierMap;

$passed = 0;
$failed = 0;

function check(string $name, callable $test): void
{
    global $passed, $failed;
    try {
        $test();
        $passed++;
    } catch (Throwable $e) {
        $failed++;
        fwrite(STDERR, "FAIL {$name}\n  " . $e->getMessage() . "\n");
    }
}

function same(mixed $expected, mixed $actual, string $what = ''): void
{
    if ($expected !== $actual) {
        throw new RuntimeException(($what !== '' ? "{$what}: " : '') . 'expected ' . var_export($expected, true) . ', got ' . var_export($actual, true));
    }
}

function truthy(bool $condition, string $what): void
{
    if (!$condition) {
        throw new RuntimeException($what);
    }
}

/** The message of what $fn throws, or a failure when it throws nothing. */
function thrown(callable $fn, string $class = InvalidArgumentException::class): string
{
    try {
        $fn();
    } catch (Throwable $e) {
        same($class, $e::class, 'exception class');

        return $e->getMessage();
    }
    throw new RuntimeException("expected {$class}, nothing was thrown");
}

$vectors = json_decode((string) file_get_contents(__DIR__ . '/vectors.json'), true, 512, JSON_THROW_ON_ERROR);
$secret = $vectors['secret'];

// Shared vectors: the same bytes and signatures that the TypeScript test checks with Arbiter's own verification.
foreach ($vectors['messages'] as $v) {
    check("vector: {$v['name']}", function () use ($v, $secret) {
        $in = $v['input'];
        $state = new ServiceState((string) $in['service_id'], (string) $in['product_id'], null, $in['email'], $in['name']);
        $message = Payload::message($in['event'], $state, $in['tier'], new DateTimeImmutable($in['at']));
        same($v['id'], $message->id, 'event id');
        same($v['body'], $message->body, 'body bytes');
        same($in['event'], $message->type, 'type');
        same((string) $in['service_id'], $message->subscriptionId, 'subscription id');
        same($v['signature'], (new Signer($secret))->signature($message->id, $v['timestamp'], $message->body), 'signature');
    });
}

foreach ($vectors['mapping'] as $v) {
    check("mapping: {$v['name']}", function () use ($v) {
        same($v['event'], EventMapper::map(Change::fromArray($v['change'])));
    });
}

check('every event the mapping yields is one of Arbiter\'s six', function () use ($vectors) {
    $events = array_filter(array_column($vectors['mapping'], 'event'));
    same([], array_values(array_diff($events, EventMapper::EVENTS)));
    same(6, count(array_unique($events)), 'the vectors reach all six');
});

check('a change of the same service gets the same event id whenever it is built', function () {
    $state = new ServiceState('42', '7', null, 'ada@example.com', 'Ada');
    $at = new DateTimeImmutable('2026-12-01T15:33:24Z');
    $first = Payload::message(EventMapper::SUSPENDED, $state, 'awakened', $at);
    $again = Payload::message(EventMapper::SUSPENDED, $state, 'awakened', new DateTimeImmutable('2026-12-01T16:33:24+01:00'));
    same($first->id, $again->id);
    same($first->body, $again->body);
    $later = Payload::message(EventMapper::SUSPENDED, $state, 'awakened', $at->modify('+1 second'));
    truthy($later->id !== $first->id, 'a later change gets a new id');
    $other = Payload::message(EventMapper::UPGRADED, new ServiceState('42', '8', null, 'ada@example.com', 'Ada'), 'ascended', $at);
    truthy($other->id !== Payload::message(EventMapper::UPGRADED, $state, 'awakened', $at)->id, 'a move to another product in the same second gets another id');
    truthy(preg_match('/^[^\s.]{1,255}$/', $first->id) === 1, 'a webhook-id has no spaces or dots');
});

check('headers: the four names, the id stable across attempts, the timestamp of each attempt in whole seconds', function () use ($secret) {
    $message = new Message('paymenter-42-created-p7-20261201T153324Z', EventMapper::CREATED, '42', '{"event":"subscription.created"}');
    $signer = new Signer($secret);
    $first = $signer->headers($message->id, 1764603300, $message->body);
    $retry = $signer->headers($message->id, 1764603390, $message->body);
    same(['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature'], array_keys($first));
    same('application/json', $first['content-type']);
    same($message->id, $first['webhook-id']);
    same($first['webhook-id'], $retry['webhook-id'], 'webhook-id across attempts');
    same('1764603300', $first['webhook-timestamp']);
    same('1764603390', $retry['webhook-timestamp']);
    truthy(preg_match('/^\d{1,12}$/', $retry['webhook-timestamp']) === 1, 'timestamp is whole seconds');
    truthy(preg_match('#^v1,[A-Za-z0-9+/]{43}=$#', $first['webhook-signature']) === 1, 'signature is v1,<base64 of 32 bytes>');
    truthy($first['webhook-signature'] !== $retry['webhook-signature'], 'each attempt signs its own timestamp');
});

check('signature: HMAC-SHA256 of "id.timestamp.body" with the base64-decoded key', function () use ($secret) {
    $key = base64_decode(substr($secret, strlen('whsec_')), true);
    $expected = 'v1,' . base64_encode(hash_hmac('sha256', 'msg_1.1700000000.{"a":1}', $key, true));
    same($expected, (new Signer($secret))->signature('msg_1', 1700000000, '{"a":1}'));
    truthy((new Signer($secret))->signature('msg_1', 1700000000, '{"a":2}') !== $expected, 'another body, another signature');
});

check('a secret that is not whsec_ + base64 of at least 16 bytes is refused in words that never repeat it', function () {
    $secrets = [
        'c2VjcmV0LXNlY3JldC1zZWNyZXQ=' => 'whsec_',
        'whsec_not base64!' => 'base64',
        'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ' => 'base64',
        'whsec_c2hvcnQ=' => '16 bytes',
        '' => 'whsec_',
    ];
    foreach ($secrets as $bad => $expected) {
        $message = thrown(fn () => new Signer($bad));
        truthy(str_contains($message, $expected), "message for '{$bad}' mentions {$expected}: {$message}");
        truthy($bad === '' || !str_contains($message, $bad), 'the message does not repeat the secret');
    }
    $signer = new Signer('whsec_c2hhcmVkLXRlc3QtdmVjdG9ycy1mb3ItYXJiaXRlciE=');
    truthy(!str_contains(print_r($signer, true), 'c2hhcmVk') && !str_contains(print_r($signer, true), 'shared-test'), 'print_r shows no key');
});

check('a name is cut to 200 UTF-16 units, as Arbiter counts, without splitting a character', function () {
    same(str_repeat('é', 200), Payload::cleanName(str_repeat('é', 250)));
    same(str_repeat('🎸', 100), Payload::cleanName(str_repeat('🎸', 150)), 'characters outside the BMP count twice');
    same('a' . str_repeat('🎸', 99), Payload::cleanName('a' . str_repeat('🎸', 150)), 'a pair that would pass 200 is left out whole');
    same("Zo\u{FFFD} Ada", Payload::cleanName("Zo\xC3 Ada"), 'bytes that are not UTF-8 become U+FFFD');
    same('', Payload::cleanName("\t\n "));
});

check('tier mapping: one id=tier a line, comments and blank lines skipped, or a JSON object', function () {
    $lines = TierMap::parse("# product id = tier\n7=awakened\n\n 12 = Ascended \n");
    same('awakened', $lines->tierFor('7', 'ignored-slug'));
    same('Ascended', $lines->tierFor('12', null));
    same('gold-plan', $lines->tierFor('99', 'gold-plan'), 'an unmapped product falls back to its slug');
    same(null, $lines->tierFor('99', null), 'no mapping and no slug: no tier');
    same(null, $lines->tierFor('99', '  '), 'a blank slug is no tier');
    $json = TierMap::parse('{"7": "awakened", "12": "ascended"}');
    same('ascended', $json->tierFor('12', null));
    same(null, TierMap::parse(null)->tierFor('7', null));
    same('awakened', TierMap::parse(['7' => 'awakened'])->tierFor('7', null), 'as Paymenter hands over a decoded array');
});

check('tier mapping: every problem at once, with line numbers', function () {
    $message = thrown(fn () => TierMap::parse("7=awakened\nseven=ascended\n8\n7=ascended\n9=" . str_repeat('x', 65)));
    foreach (['line 2', 'line 3', 'line 4: product 7 is mapped twice', 'line 5', '64'] as $part) {
        truthy(str_contains($message, $part), "mentions '{$part}': {$message}");
    }
    truthy(str_contains(thrown(fn () => TierMap::parse('{"7": ["a"]}')), 'product 7'), 'a JSON value that is not text');
    truthy(str_contains(thrown(fn () => TierMap::parse('{"7": "a",')), 'JSON'), 'JSON that does not parse');
});

check('settings: URL, secret, tiers and events read and checked together', function () use ($secret) {
    $settings = Settings::fromArray([
        'url' => ' https://arbiter.example.com/webhook/billing ',
        'secret' => $secret,
        'tiers' => '7=awakened',
        'events' => ['subscription.created', 'subscription.cancelled'],
    ]);
    same('https://arbiter.example.com/webhook/billing', $settings->url);
    same('awakened', $settings->tiers->tierFor('7', null));
    truthy($settings->sends('subscription.created') && !$settings->sends('subscription.suspended'), 'only the chosen events');
    $all = Settings::fromArray(['url' => 'http://127.0.0.1:3500/webhook/billing', 'secret' => $secret, 'events' => null]);
    foreach (EventMapper::EVENTS as $event) {
        truthy($all->sends($event), "no choice saved yet sends {$event}");
    }
    truthy(Settings::fromArray(['url' => 'http://a.test/webhook/billing', 'secret' => $secret, 'events' => '["subscription.resumed"]'])->sends('subscription.resumed'), 'events as stored JSON');
    truthy(!str_contains(print_r($settings, true), substr($secret, 6)), 'print_r shows no secret');

    $message = thrown(fn () => Settings::fromArray(['url' => 'ftp://x', 'secret' => 'whsec_bad!', 'tiers' => 'x', 'events' => ['subscription.paused']]));
    foreach (['Arbiter URL', 'Secret', 'Tier mapping', 'subscription.paused'] as $part) {
        truthy(str_contains($message, $part), "mentions '{$part}': {$message}");
    }
    truthy(str_contains(thrown(fn () => Settings::fromArray([])), 'Arbiter URL: required'), 'missing settings named');
});

check('delivery: 2xx done; 4xx permanent except 408 and 429; 5xx, 408, 429 and no answer retried', function () {
    $expected = [200 => 'done', 202 => 'done', 204 => 'done', 301 => 'permanent', 400 => 'permanent', 401 => 'permanent', 404 => 'permanent',
        408 => 'retry', 413 => 'permanent', 415 => 'permanent', 422 => 'permanent', 429 => 'retry', 500 => 'retry', 502 => 'retry', 503 => 'retry', 504 => 'retry'];
    foreach ($expected as $status => $verdict) {
        same($verdict, Delivery::verdict(new Answer($status, '')), "HTTP {$status}");
    }
    same('retry', Delivery::verdict(new Answer(null, '', 'Connection refused')), 'no answer');
});

check('delivery: exponential backoff from 30 s, at most an hour apart', function () {
    same([30, 90, 270, 810, 2430, 3600, 3600, 3600, 3600, 3600, 3600], Delivery::backoff());
    same(count(Delivery::backoff()) + 1, Delivery::ATTEMPTS, 'one delay between each two attempts');
    same(30, Delivery::delayAfter(1));
    same(3600, Delivery::delayAfter(40));
});

check('delivery: a failure is described on one line with the event and Arbiter\'s answer, cut short', function () {
    $message = new Message('paymenter-42-created-p7-20261201T153324Z', EventMapper::CREATED, '42', '{}');
    $line = Delivery::describe($message, new Answer(422, "{\"error\":{\"code\":\"webhook_invalid\"}}\n" . str_repeat('x', 2000)));
    foreach (['subscription.created', 'paymenter-42-created-p7-20261201T153324Z', 'service 42', 'HTTP 422', 'webhook_invalid'] as $part) {
        truthy(str_contains($line, $part), "mentions '{$part}': {$line}");
    }
    truthy(!str_contains($line, "\n"), 'one line');
    truthy(strlen($line) < 800, 'the body is cut short: ' . strlen($line));
    $none = Delivery::describe($message, new Answer(null, '', 'Connection refused'));
    truthy(str_contains($none, 'no answer') && str_contains($none, 'Connection refused'), $none);
});

check('sending to a port where nothing listens is no answer, to be retried', function () use ($secret) {
    // A port that was free a moment ago: bound, then closed.
    $server = stream_socket_server('tcp://127.0.0.1:0');
    $address = stream_socket_get_name($server, false);
    fclose($server);
    $settings = Settings::fromArray(['url' => "http://{$address}/webhook/billing", 'secret' => $secret]);
    $answer = (new Sender($settings))->send(new Message('paymenter-1-created-p1-20261201T000000Z', EventMapper::CREATED, '1', '{}'), time());
    same(null, $answer->status);
    truthy($answer->error !== null && $answer->error !== '', 'the transport error is kept');
    same('retry', Delivery::verdict($answer));
});

check('test event: a type Arbiter ignores, a fresh id each time, and the answer in words', function () {
    $at = new DateTimeImmutable('2026-12-01T15:33:24Z');
    $one = TestEvent::message($at);
    $two = TestEvent::message($at);
    same('paymenter.test', $one->type);
    truthy($one->id !== $two->id, 'each test is a new delivery, never a duplicate');
    same('paymenter.test', json_decode($one->body, true)['event']);
    [$ok, $words] = TestEvent::explain(new Answer(200, '{"status":"ignored"}'));
    truthy($ok && str_contains($words, 'URL and secret work'), $words);
    [$ok, $words] = TestEvent::explain(new Answer(401, '{"error":{"code":"webhook_bad_signature"}}'));
    truthy(!$ok && str_contains($words, 'WEBHOOK_SECRET'), $words);
    [$ok, $words] = TestEvent::explain(new Answer(404, 'Not Found'));
    truthy(!$ok && str_contains($words, '/webhook/billing'), $words);
    [$ok, $words] = TestEvent::explain(new Answer(null, '', 'Connection refused'));
    truthy(!$ok && str_contains($words, 'Connection refused'), $words);
});

echo "{$passed} passed, {$failed} failed\n";
exit($failed === 0 ? 0 : 1);

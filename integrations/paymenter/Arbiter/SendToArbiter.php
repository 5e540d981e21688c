<?php

namespace Paymenter\Extensions\Others\Arbiter;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Support\Facades\Log;
use InvalidArgumentException;
use Paymenter\Extensions\Others\Arbiter\Bridge\Answer;
use Paymenter\Extensions\Others\Arbiter\Bridge\Delivery;
use Paymenter\Extensions\Others\Arbiter\Bridge\Message;
use Paymenter\Extensions\Others\Arbiter\Bridge\Sender;
use Throwable;

/**
 * Delivers one event to Arbiter from the queue worker, never in the customer's request. The body and the
 * webhook-id are fixed when the job is made; each attempt signs them with its own webhook-timestamp and reads the
 * URL and secret as saved then, so a corrected setting or a rotated secret applies to the retries.
 */
class SendToArbiter implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable;

    public $tries = Delivery::ATTEMPTS;

    public $timeout = 60;

    public function __construct(
        public string $eventId,
        public string $type,
        public string $subscriptionId,
        public string $body,
    ) {
        // Queued only once the transaction that made the change has committed (a rollback sends nothing).
        $this->afterCommit();
    }

    /** Used when an attempt throws; answers that call for a retry are released with the same delays below. */
    public function backoff(): array
    {
        return Delivery::backoff();
    }

    public function handle(): void
    {
        $message = new Message($this->eventId, $this->type, $this->subscriptionId, $this->body);
        try {
            $settings = Arbiter::savedSettings();
        } catch (InvalidArgumentException $e) {
            $this->retryOrFail($message, 'the extension\'s settings are incomplete: ' . $e->getMessage());

            return;
        }

        $answer = (new Sender($settings))->send($message, time());
        match (Delivery::verdict($answer)) {
            Delivery::DONE => null,
            Delivery::PERMANENT => $this->fail(new DeliveryFailed(Delivery::describe($message, $answer) . ' (not retried: the same delivery would get the same answer)')),
            default => $this->retryOrFail($message, null, $answer),
        };
    }

    private function retryOrFail(Message $message, ?string $problem, ?Answer $answer = null): void
    {
        $what = $answer !== null ? Delivery::describe($message, $answer) : "{$message->type} {$message->id} for service {$message->subscriptionId}: {$problem}";
        $attempt = $this->attempts();
        if ($attempt >= $this->tries) {
            $this->fail(new DeliveryFailed("{$what} (after {$attempt} attempts)"));

            return;
        }
        $delay = Delivery::delayAfter($attempt);
        Log::warning("Arbiter extension: attempt {$attempt} of {$this->tries} failed, next in {$delay} s: {$what}");
        $this->release($delay);
    }

    /** Logged once, when the job gives up; it stays in failed_jobs, where `php artisan queue:retry` can send it again. */
    public function failed(?Throwable $e): void
    {
        $reason = $e instanceof DeliveryFailed
            ? $e->getMessage()
            : "{$this->type} {$this->eventId} for service {$this->subscriptionId}: " . ($e?->getMessage() ?? 'the job failed');
        Log::error("Arbiter extension: gave up delivering {$reason}");
    }
}

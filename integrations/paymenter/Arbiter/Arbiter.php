<?php

namespace Paymenter\Extensions\Others\Arbiter;

use App\Attributes\ExtensionMeta;
use App\Classes\Extension\Extension;
use App\Events\Service\Created as ServiceCreated;
use App\Events\Service\Deleted as ServiceDeleted;
use App\Events\Service\Updated as ServiceUpdated;
use App\Models\Extension as ExtensionModel;
use App\Models\Service;
use DateTimeInterface;
use Illuminate\Support\Facades\DB;
use Illuminate\Support\Facades\Event;
use Illuminate\Support\Facades\Log;
use InvalidArgumentException;
use Paymenter\Extensions\Others\Arbiter\Admin\SendTestEventAction;
use Paymenter\Extensions\Others\Arbiter\Admin\SettingRule;
use Paymenter\Extensions\Others\Arbiter\Bridge\Change;
use Paymenter\Extensions\Others\Arbiter\Bridge\EventMapper;
use Paymenter\Extensions\Others\Arbiter\Bridge\Payload;
use Paymenter\Extensions\Others\Arbiter\Bridge\ServiceState;
use Paymenter\Extensions\Others\Arbiter\Bridge\Settings;
use Throwable;

/**
 * Sends Arbiter a signed webhook when a service starts, changes product, is suspended, resumes or ends. This class
 * only reads Paymenter's models; what a change means, the payload and the signing are in Bridge/ (plain PHP).
 */
#[ExtensionMeta(
    name: 'Arbiter',
    description: 'Sends subscription events to Arbiter, which gives subscribers the Discord roles of their tier.',
    version: '1.0.0',
    author: 'Arbiter',
)]
class Arbiter extends Extension
{
    /** Event dispatchers this extension listens on already: boot() runs once per request, but a worker lives long. */
    private static array $listening = [];

    public function getConfig($values = [])
    {
        return [
            [
                'name' => 'url',
                'type' => 'text',
                'label' => 'Arbiter URL',
                'description' => 'The full webhook URL, e.g. https://arbiter.example.com/webhook/billing',
                'required' => true,
                'validation' => [new SettingRule('url')],
                'action' => SendTestEventAction::class,
            ],
            [
                'name' => 'secret',
                'type' => 'password',
                'label' => 'Secret',
                'description' => 'whsec_ and base64, made with: echo "whsec_$(openssl rand -base64 32)". The same value goes into Arbiter\'s WEBHOOK_SECRET.',
                'required' => true,
                'encrypted' => true,
                'validation' => [new SettingRule('secret')],
            ],
            [
                'name' => 'tiers',
                'type' => 'textarea',
                'label' => 'Tier mapping',
                'description' => 'Product ID = Arbiter tier, one a line (7=awakened), or JSON ({"7": "awakened"}). A product not listed uses its slug as its tier.',
                'required' => false,
                'validation' => [new SettingRule('tiers')],
            ],
            [
                'name' => 'events',
                'type' => 'select',
                'multiple' => true,
                'label' => 'Events to send',
                'description' => 'Leave all selected unless Arbiter should not hear of some changes.',
                'required' => true,
                'database_type' => 'array',
                'options' => EventMapper::EVENTS,
                'default' => EventMapper::EVENTS,
            ],
        ];
    }

    public function boot()
    {
        $dispatcher = spl_object_id(Event::getFacadeRoot());
        if (isset(self::$listening[$dispatcher])) {
            return;
        }
        self::$listening[$dispatcher] = true;

        Event::listen(ServiceCreated::class, fn (ServiceCreated $event) => $this->changed($event->service, Change::CREATED));
        Event::listen(ServiceUpdated::class, fn (ServiceUpdated $event) => $this->changed($event->service, Change::UPDATED));
        Event::listen(ServiceDeleted::class, fn (ServiceDeleted $event) => $this->changed($event->service, Change::DELETED));
    }

    /** The saved settings, checked; InvalidArgumentException names what is missing or wrong (never the secret). */
    public static function savedSettings(): Settings
    {
        $record = ExtensionModel::where('extension', 'Arbiter')->first();
        if ($record === null) {
            throw new InvalidArgumentException('the Arbiter extension is not installed');
        }

        return Settings::fromArray($record->settings->pluck('value', 'key')->toArray());
    }

    /**
     * Runs inside the model event, so inside the caller's transaction: it reads what changed (the model still knows
     * its values before the save) and leaves the rest until the transaction has committed. Nothing here may break
     * the save it listens to, so every failure is logged and swallowed.
     */
    private function changed(Service $service, string $kind): void
    {
        try {
            $change = match ($kind) {
                Change::CREATED => new Change($kind, null, $service->status),
                Change::DELETED => new Change($kind, $service->status, null),
                default => new Change($kind, $service->getOriginal('status'), $service->status, $service->wasChanged('product_id'), (string) $service->getOriginal('price')),
            };
            // Most saves (a renewal's new due date, a label) are no event; only a product change waits for its new price.
            if (!$change->productChanged && EventMapper::map($change) === null) {
                return;
            }
            $at = $this->changedAt($service, $kind);

            if ($kind === Change::DELETED) {
                // The row is gone after the commit: read the customer and product now.
                $state = self::state($service);
                DB::afterCommit(fn () => $this->safely($state->serviceId, fn () => $this->queue($change, $state, $at)));

                return;
            }
            $id = $service->getKey();
            DB::afterCommit(fn () => $this->safely((string) $id, function () use ($change, $id, $at) {
                $fresh = Service::with(['user', 'product'])->find($id);
                if ($fresh === null) {
                    return; // deleted in the same transaction: its Deleted event speaks for it
                }
                // An upgrade saves the new product first and its price afterwards, in one transaction: compare the
                // price before the product changed with the price that was committed.
                $committed = $change->productChanged
                    ? new Change($change->kind, $change->from, $change->to, true, $change->oldPrice, (string) $fresh->price)
                    : $change;
                $this->queue($committed, self::state($fresh), $at);
            }));
        } catch (Throwable $e) {
            Log::error("Arbiter extension: could not read the change of service {$service->getKey()}: {$e->getMessage()}");
        }
    }

    private function queue(Change $change, ServiceState $state, DateTimeInterface $at): void
    {
        $event = EventMapper::map($change);
        if ($event === null) {
            return;
        }
        try {
            $settings = self::savedSettings();
        } catch (InvalidArgumentException $e) {
            Log::error("Arbiter extension: {$event} for service {$state->serviceId} not sent, the settings are incomplete: {$e->getMessage()}");

            return;
        }
        if (!$settings->sends($event)) {
            return;
        }
        $tier = $settings->tiers->tierFor($state->productId, $state->productSlug);
        if ($tier === null) {
            Log::warning("Arbiter extension: {$event} for service {$state->serviceId} not sent: product {$state->productId} has no tier. Map it in the extension's tier mapping, or give the product a slug.");

            return;
        }
        if (trim($state->email) === '') {
            Log::warning("Arbiter extension: {$event} for service {$state->serviceId} not sent: the service has no customer email.");

            return;
        }
        $message = Payload::message($event, $state, $tier, $at);
        SendToArbiter::dispatch($message->id, $message->type, $message->subscriptionId, $message->body);
    }

    private function safely(string $serviceId, callable $work): void
    {
        try {
            $work();
        } catch (Throwable $e) {
            Log::error("Arbiter extension: could not queue the event of service {$serviceId}: {$e->getMessage()}");
        }
    }

    /** When the change was saved: the same change always has the same time, and so the same event id. */
    private function changedAt(Service $service, string $kind): DateTimeInterface
    {
        return match (true) {
            $kind === Change::CREATED && $service->created_at !== null => $service->created_at,
            $kind === Change::UPDATED && $service->wasChanged('updated_at') && $service->updated_at !== null => $service->updated_at,
            default => now(),
        };
    }

    private static function state(Service $service): ServiceState
    {
        return new ServiceState(
            (string) $service->getKey(),
            $service->product_id !== null ? (string) $service->product_id : null,
            $service->product?->slug,
            (string) ($service->user?->email ?? ''),
            (string) ($service->user?->name ?? ''),
        );
    }
}

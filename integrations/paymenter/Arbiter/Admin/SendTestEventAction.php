<?php

namespace Paymenter\Extensions\Others\Arbiter\Admin;

use Filament\Actions\Action;
use Filament\Notifications\Notification;
use Illuminate\Support\Facades\Gate;
use Illuminate\Support\Facades\Log;
use InvalidArgumentException;
use Paymenter\Extensions\Others\Arbiter\Arbiter;
use Paymenter\Extensions\Others\Arbiter\Bridge\Sender;
use Paymenter\Extensions\Others\Arbiter\Bridge\TestEvent;

/**
 * "Send a test event", next to the Arbiter URL field: one signed event of a type Arbiter ignores, sent with the
 * saved settings while the admin waits, and Arbiter's answer shown in words.
 */
class SendTestEventAction extends Action
{
    public static function getDefaultName(): ?string
    {
        return 'arbiterSendTestEvent';
    }

    protected function setUp(): void
    {
        parent::setUp();

        $this->label('Send a test event')
            ->color('info')
            ->requiresConfirmation()
            ->modalHeading('Send a test event to Arbiter')
            ->modalDescription('Uses the saved settings, so save first. Arbiter checks the signature, stores the event and answers "ignored"; no subscription changes.')
            ->action(function () {
                Gate::authorize('has-permission', 'admin.extensions.update');

                try {
                    $settings = Arbiter::savedSettings();
                } catch (InvalidArgumentException $e) {
                    Notification::make()->title('Save complete settings first')->body($e->getMessage())->danger()->persistent()->send();

                    return;
                }
                $answer = (new Sender($settings, 10.0))->send(TestEvent::message(now()), time());
                [$ok, $words] = TestEvent::explain($answer);
                Log::info('Arbiter extension: test event: ' . $words);
                $notification = Notification::make()->title($ok ? 'Arbiter received the test event' : 'The test event did not go through')->body($words);
                ($ok ? $notification->success() : $notification->danger()->persistent())->send();
            });
    }
}

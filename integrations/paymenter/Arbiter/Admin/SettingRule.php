<?php

namespace Paymenter\Extensions\Others\Arbiter\Admin;

use Closure;
use Illuminate\Contracts\Validation\ValidationRule;
use InvalidArgumentException;
use Paymenter\Extensions\Others\Arbiter\Bridge\Settings;
use Paymenter\Extensions\Others\Arbiter\Bridge\Signer;
use Paymenter\Extensions\Others\Arbiter\Bridge\TierMap;

/** Checks one setting in the admin form with the same rules the extension reads it by, before it is saved. */
class SettingRule implements ValidationRule
{
    public function __construct(private string $setting) {}

    public function validate(string $attribute, mixed $value, Closure $fail): void
    {
        $problem = null;
        try {
            if ($this->setting === 'url') {
                $problem = Settings::urlProblem(trim((string) $value));
            } elseif ($this->setting === 'secret') {
                Signer::key((string) $value);
            } elseif ($this->setting === 'tiers') {
                TierMap::parse(is_array($value) ? $value : (string) $value);
            }
        } catch (InvalidArgumentException $e) {
            $problem = $e->getMessage();
        }
        if ($problem !== null) {
            $fail($problem);
        }
    }
}

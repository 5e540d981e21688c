<?php

declare(strict_types=1);

// Inside Paymenter, Composer's PSR-4 rule for Paymenter\Extensions\ loads these classes; here, without Composer, this does.
spl_autoload_register(static function (string $class): void {
    $prefix = 'Paymenter\\Extensions\\Others\\Arbiter\\Bridge\\';
    if (str_starts_with($class, $prefix)) {
        $file = __DIR__ . '/../Arbiter/Bridge/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});

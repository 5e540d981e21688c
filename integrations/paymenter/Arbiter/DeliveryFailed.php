<?php

namespace Paymenter\Extensions\Others\Arbiter;

use RuntimeException;

/** An event Arbiter did not take, with its answer: the message names the event and never holds the secret. */
class DeliveryFailed extends RuntimeException {}

CREATE TRIGGER balance_value_integer_insert BEFORE INSERT ON balance
    WHEN typeof(NEW.value) <> 'integer' OR NEW.value < 0
    BEGIN SELECT RAISE(ABORT, 'balance.value must be a non-negative integer of minor units'); END;
CREATE TRIGGER balance_value_integer_update BEFORE UPDATE OF value ON balance
    WHEN typeof(NEW.value) <> 'integer' OR NEW.value < 0
    BEGIN SELECT RAISE(ABORT, 'balance.value must be a non-negative integer of minor units'); END;
CREATE TRIGGER ledger_delta_integer_insert BEFORE INSERT ON ledger
    WHEN typeof(NEW.delta) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'ledger.delta must be an integer of minor units'); END;
CREATE TRIGGER ledger_delta_integer_update BEFORE UPDATE OF delta ON ledger
    WHEN typeof(NEW.delta) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'ledger.delta must be an integer of minor units'); END;
CREATE TRIGGER payment_amount_integer_insert BEFORE INSERT ON payment
    WHEN typeof(NEW.amount) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'payment.amount must be an integer of minor units'); END;
CREATE TRIGGER payment_amount_integer_update BEFORE UPDATE OF amount ON payment
    WHEN typeof(NEW.amount) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'payment.amount must be an integer of minor units'); END;
CREATE TRIGGER refund_amount_integer_insert BEFORE INSERT ON refund
    WHEN typeof(NEW.amount) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'refund.amount must be an integer of minor units'); END;
CREATE TRIGGER refund_amount_integer_update BEFORE UPDATE OF amount ON refund
    WHEN typeof(NEW.amount) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'refund.amount must be an integer of minor units'); END;

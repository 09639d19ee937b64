"""A service module that logs the way the dictionary wants."""
import logging

import logstd

log = logging.getLogger(__name__)


def create(order, customer_id: str) -> None:
    logstd.bind(customerId=customer_id)
    log.info("order created", extra={"orderId": order.id, "durationMs": 12.5})
    log.exception("payment failed", extra={"errorCode": "PAYMENT_DECLINED"}, stack_info=False)
    log.log(logging.INFO, "order shipped")
    other = {"customer_id": 1}  # a dict that is not logged is none of our business
    return other

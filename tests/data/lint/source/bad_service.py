"""A service module with every logging mistake the linter knows (never imported)."""
import logging

import logstd
import structlog
import this_module_does_not_exist  # linting never imports the code

log = logging.getLogger(__name__)
slog = structlog.get_logger()


def create(order, password, user, request):
    log.info(f"order {order.id} created", extra={"customer_id": order.customer})
    log.info("charged %s for %s", order.total, order.customer)
    log.info("total is " + str(order.total))
    log.info("order {} paid".format(order.id))
    log.warning("login", extra={"password": password, "cust": user.id})
    log.error("auth failed for %s", request.headers["authorization"])
    log.info("done", extra={"message": "x", "orderId": order.id})
    slog.info("order.created", custId=order.customer, durationMs=3.2, trace="t")
    logstd.bind(order_id=order.id, apiKey=user.api_key)
    print("created", order.id)
    print("debugging")  # logstd: ignore[LS204]
    log.info(f"user {user.token}")  # logstd: ignore[LS203]
    logging.getLogger("x").debug("ok", extra={"reqId": 1})

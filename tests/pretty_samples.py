"""Realistic lines of every producer ``logstd pretty`` reads, written after their documentation.

Each entry: producer -> (lines, expected (time, level label, message) of the first line).
"""

from __future__ import annotations

SAMPLES: dict[str, tuple[list[str], tuple[str, str, str]]] = {
    "logstd": ([
        '{"timestamp":"2026-11-28T20:52:45.123Z","level":"info","message":"order created",'
        '"service":"orders","logger":"orders.api","customerId":"C-1001","orderId":"O-1",'
        '"httpStatus":201,"durationMs":12.5,"traceId":"4bf92f3577b34da6a3ce929d0e0e4736",'
        '"spanId":"00f067aa0ba902b7"}',
        '{"timestamp":"2026-11-28T20:52:46.001Z","level":"error","message":"order failed",'
        '"service":"orders","logger":"orders.api","errorType":"TimeoutError",'
        '"errorMessage":"payments did not answer","stackTrace":"Traceback (most recent call '
        'last):\\n  File \\"/app/orders/api.py\\", line 88, in create\\n    charge = await '
        'payments.charge(order)\\nTimeoutError: payments did not answer"}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "order created")),
    # go.uber.org/zap NewProduction: epoch seconds, caller, stacktrace on errors
    "zap": ([
        '{"level":"info","ts":1795899165.1234567,"caller":"orders/api.go:88","msg":"order '
        'created","orderId":"O-1","customer_id":"C-1001","latency":0.0125}',
        '{"level":"error","ts":1795899166.5,"logger":"payments","caller":"payments/client.go:41",'
        '"msg":"charge failed","error":"context deadline exceeded","stacktrace":"main.charge\\n'
        '\\t/app/payments/client.go:41\\nmain.main\\n\\t/app/main.go:12"}',
        '{"level":"dpanic","ts":"2026-11-28T20:52:47.000Z","msg":"impossible state"}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "order created")),
    # github.com/sirupsen/logrus JSONFormatter: RFC 3339 with the local offset
    "logrus": ([
        '{"level":"warning","msg":"retrying payment","time":"2026-11-28T21:52:45+01:00",'
        '"attempt":2,"order_id":"O-1"}',
        '{"level":"info","msg":"listening","time":"2026-11-28T20:52:40Z","port":8080}',
    ], ("2026-11-28T20:52:45.000Z", "WARN ", "retrying payment")),
    # pino: numeric levels, epoch milliseconds, pid and hostname, err object
    "pino": ([
        '{"level":30,"time":1795899165123,"pid":7,"hostname":"orders-7d9f","name":"orders",'
        '"reqId":"req-1","msg":"request completed","res":{"statusCode":200},"responseTime":12}',
        '{"level":50,"time":1795899166123,"pid":7,"hostname":"orders-7d9f","msg":"boom",'
        '"err":{"type":"Error","message":"boom","stack":"Error: boom\\n    at main (/app/index.js'
        ':3:9)"}}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "request completed")),
    # node-bunyan: name, hostname, pid, level number, time ISO, v
    "bunyan": ([
        '{"name":"orders","hostname":"orders-7d9f","pid":40161,"level":30,"msg":"hi",'
        '"time":"2026-11-28T20:52:45.123Z","v":0}',
        '{"name":"orders","hostname":"orders-7d9f","pid":40161,"component":"db","level":40,'
        '"msg":"slow query","time":"2026-11-28T20:52:46.000Z","v":0,"durationMs":830}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "hi")),
    # structlog JSONRenderer with TimeStamper(fmt="iso") and add_log_level
    "structlog": ([
        '{"customer_id": "C-1001", "event": "order created", "level": "info", "logger": '
        '"orders.api", "timestamp": "2026-11-28T20:52:45.123456Z"}',
        '{"event": "payment declined", "level": "warning", "timestamp": '
        '"2026-11-28T20:52:46.5Z", "reason": "insufficient funds"}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "order created")),
    # python-json-logger with "%(asctime)s %(levelname)s %(name)s %(message)s"
    "python-json-logger": ([
        '{"asctime": "2026-11-28 20:52:45,123", "levelname": "INFO", "name": "orders.api", '
        '"message": "order created", "orderId": "O-1"}',
        '{"asctime": "2026-11-28 20:52:46,000", "levelname": "ERROR", "name": "orders.api", '
        '"message": "boom", "exc_info": "Traceback (most recent call last):\\n  File \\"x.py\\",'
        ' line 1, in <module>\\nValueError: boom"}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "order created")),
    # logstash-logback-encoder (Spring Boot)
    "logstash-logback": ([
        '{"@timestamp":"2026-11-28T21:52:45.123+01:00","@version":"1","message":"Started '
        'OrdersApplication in 3.2 seconds","logger_name":"com.shop.OrdersApplication",'
        '"thread_name":"main","level":"INFO","level_value":20000}',
        '{"@timestamp":"2026-11-28T21:52:46.000+01:00","@version":"1","message":"Request '
        'failed","logger_name":"com.shop.OrderController","thread_name":"http-nio-8080-exec-3",'
        '"level":"ERROR","level_value":40000,"stack_trace":"java.lang.IllegalStateException: '
        'boom\\n\\tat com.shop.OrderController.create(OrderController.java:42)"}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "Started OrdersApplication in 3.2 seconds")),
    # ecs-logging (Python/Java): flat log.level, nested objects
    "ecs": ([
        '{"@timestamp":"2026-11-28T20:52:45.123Z","log.level":"info","message":"order created",'
        '"ecs.version":"1.6.0","service":{"name":"orders","version":"1.4.2"},'
        '"log":{"logger":"orders.api","origin":{"file":{"line":88,"name":"api.py"},'
        '"function":"create"}},"process":{"pid":7,"thread":{"name":"MainThread"}},'
        '"trace.id":"4bf92f3577b34da6a3ce929d0e0e4736","http":{"response":{"status_code":201}}}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "order created")),
    # Google Cloud structured logging (special fields)
    "google-cloud": ([
        '{"severity":"NOTICE","message":"order created","time":"2026-11-28T20:52:45.123456789Z",'
        '"logging.googleapis.com/trace":"projects/shop/traces/4bf92f3577b34da6a3ce929d0e0e4736",'
        '"logging.googleapis.com/spanId":"00f067aa0ba902b7",'
        '"logging.googleapis.com/labels":{"team":"checkout"},"orderId":"O-1"}',
        '{"severity":"ERROR","message":"payment failed","timestamp":{"seconds":1795899166,'
        '"nanos":250000000},"httpRequest":{"requestMethod":"POST","status":502}}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "order created")),
    # OpenTelemetry log records: OTLP/JSON and the Python SDK's LogRecord.to_json()
    "opentelemetry": ([
        '{"timeUnixNano":"1795899165123000000","observedTimeUnixNano":"1795899165124000000",'
        '"severityNumber":9,"severityText":"INFO","body":{"stringValue":"order created"},'
        '"attributes":[{"key":"customer_id","value":{"stringValue":"C-1001"}},{"key":'
        '"http.response.status_code","value":{"intValue":"201"}}],"droppedAttributesCount":0,'
        '"flags":1,"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174"}',
        '{"body": "payment declined", "severity_number": 13, "severity_text": "WARN", '
        '"attributes": {"orderId": "O-1"}, "dropped_attributes": 0, "timestamp": '
        '"2026-11-28T20:52:46.000000Z", "observed_timestamp": "2026-11-28T20:52:46.001000Z", '
        '"trace_id": "0x4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "0x00f067aa0ba902b7", '
        '"trace_flags": 1, "resource": {"attributes": {"service.name": "orders", '
        '"telemetry.sdk.language": "python"}, "schema_url": ""}}',
        '{"severityNumber":17,"timeUnixNano":"1795899167000000000","body":{"stringValue":'
        '"no severity text"}}',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "order created")),
    # kubectl logs --prefix, --timestamps, both; docker/CRI files; docker json-file
    "kubernetes": ([
        '[pod/orders-7d9f8c6b5-x2kqp/app] {"timestamp":"2026-11-28T20:52:45.123Z","level":'
        '"info","message":"order created","service":"orders","orderId":"O-1"}',
        '2026-11-28T20:52:46.123456789Z {"level":"info","msg":"no time of its own"}',
        '[pod/orders-7d9f8c6b5-x2kqp/app] 2026-11-28T20:52:47.000000001Z {"level":"warn",'
        '"msg":"both prefixes"}',
        '2026-11-28T20:52:48.000000000Z stdout F {"level":"info","msg":"a CRI line",'
        '"time":"2026-11-28T20:52:47.999Z"}',
        '{"log":"{\\"level\\":\\"error\\",\\"msg\\":\\"from docker json-file\\"}\\n",'
        '"stream":"stderr","time":"2026-11-28T20:52:49.5Z"}',
        '[pod/orders-7d9f8c6b5-x2kqp/app] plain text from the pod',
    ], ("2026-11-28T20:52:45.123Z", "INFO ", "order created")),
}

#!/usr/bin/env python3
"""An independent Alipay+ client: signs with Python `cryptography`, not with Plusbox's signer.

Drives pay, inquiryPayment and refund against a sandbox and verifies every response signature
with the sandbox public key. Exits non-zero on the first mismatch.

usage: independent_signer.py GATEWAY_URL CLIENT_ID ACQP_PRIVATE_KEY_PEM SANDBOX_PUBLIC_KEY_B64 PAYMENT_CODE
"""
import base64
import json
import sys
import time
import urllib.parse
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def main():
    gateway, client_id, key_path, sandbox_public_b64, code = sys.argv[1:6]
    with open(key_path, "rb") as f:
        private_key = serialization.load_pem_private_key(f.read(), password=None)
    public_key = serialization.load_der_public_key(base64.b64decode(sandbox_public_b64))

    def call(api, body):
        path = "/aps/api/v1/payments/" + api
        raw = json.dumps(body, separators=(",", ":")).encode()
        # Like the Java SDK: epoch-millisecond Request-Time, no spaces in the Signature header.
        request_time = str(int(time.time() * 1000))
        content = f"POST {path}\n{client_id}.{request_time}.".encode() + raw
        signature = private_key.sign(content, padding.PKCS1v15(), hashes.SHA256())
        encoded = urllib.parse.quote(base64.b64encode(signature).decode(), safe="")
        request = urllib.request.Request(gateway + path, data=raw, method="POST")
        request.add_header("Content-Type", "application/json; charset=UTF-8")
        request.add_header("Client-Id", client_id)
        request.add_header("Request-Time", request_time)
        request.add_header("Signature", f"algorithm=RSA256,keyVersion=1,signature={encoded}")
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
            answer = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
        assert status == 200, status
        # Verify the sandbox's response signature over the exact bytes received.
        sig_header = headers["signature"]
        parts = dict(p.strip().split("=", 1) for p in sig_header.split(","))
        assert parts["algorithm"] == "RSA256", sig_header
        sig = base64.b64decode(urllib.parse.unquote(parts["signature"]))
        signed = f"POST {path}\n{headers['client-id']}.{headers['response-time']}.".encode() + answer
        public_key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        return json.loads(answer)

    amount = {"currency": "USD", "value": "2500"}
    pay = call("pay", {
        "paymentRequestId": "py-pay-1",
        "paymentAmount": amount,
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
        "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "PaymentCode"},
        "order": {
            "referenceOrderId": "py-order-1",
            "orderDescription": "Python says hello",
            "orderAmount": amount,
            "merchant": {"referenceMerchantId": "M0001", "merchantName": "Py Shop",
                         "store": {"referenceStoreId": "S0001", "storeName": "Py Store"}},
        },
    })
    assert pay["result"]["resultCode"] == "SUCCESS", pay
    inquiry = call("inquiryPayment", {"paymentRequestId": "py-pay-1"})
    assert inquiry["result"]["resultStatus"] == "S", inquiry
    assert inquiry["paymentResult"]["resultCode"] == "SUCCESS", inquiry
    assert inquiry["paymentId"] == pay["paymentId"], inquiry
    refund = call("refund", {
        "paymentId": pay["paymentId"],
        "refundRequestId": "py-refund-1",
        "refundAmount": {"currency": "USD", "value": "1000"},
        "refundReason": "partial return",
    })
    assert refund["result"]["resultCode"] == "SUCCESS", refund
    assert len(refund["refundId"]) == 23, refund
    print("python independent signer: pay, inquiryPayment, refund OK")


if __name__ == "__main__":
    main()

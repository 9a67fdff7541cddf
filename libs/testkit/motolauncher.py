# Starts moto_server with the few changes that make it behave like AWS where
# simbridge depends on it (each patch says which AWS behaviour it restores).
# libs/testkit/moto.go runs it with the Python next to moto_server.
import sys
import contextvars
from moto.core.config import default_user_config
default_user_config.setdefault("iot", {})["use_valid_cert"] = True

# KMS Sign with MessageType=DIGEST signs the given digest as AWS does (moto
# hashes it again).
from moto.kms import responses as _kr, utils as _ku
from cryptography.hazmat.primitives.asymmetric import ec as _ec, utils as _au
_digest = contextvars.ContextVar("simbridge_kms_digest", default=False)
_resp_sign = _kr.KmsResponse.sign
def _sign(self):
    token = _digest.set(self._get_param("MessageType") == "DIGEST")
    try:
        return _resp_sign(self)
    finally:
        _digest.reset(token)
_kr.KmsResponse.sign = _sign
_ec_sign = _ku.ECDSAPrivateKey.sign
def _ec_sign_digest(self, message, algorithm):
    if not _digest.get():
        return _ec_sign(self, message, algorithm)
    h = self._ECDSAPrivateKey__hash_algorithm(algorithm)
    return self.private_key.sign(message, _ec.ECDSA(_au.Prehashed(h)))
_ku.ECDSAPrivateKey.sign = _ec_sign_digest
_rsa_sign = _ku.RSAPrivateKey.sign
def _rsa_sign_digest(self, message, algorithm):
    if not _digest.get():
        return _rsa_sign(self, message, algorithm)
    pad, h = self._RSAPrivateKey__padding_and_hash_algorithm(algorithm)
    return self.private_key.sign(message, pad, _au.Prehashed(h))
_ku.RSAPrivateKey.sign = _rsa_sign_digest

# IoT: a REVOKED certificate is never reactivated, and a certificate
# registered with a CA must be signed by that CA, registered and ACTIVE.
from moto.iot import models as _im, exceptions as _ie
from cryptography import x509 as _x509
class _CertificateValidation(_ie.IoTClientError):
    def __init__(self, msg):
        self.code = 400
        super().__init__("CertificateValidationException", msg)
_update = _im.IoTBackend.update_certificate
def _update_certificate(self, certificate_id, new_status):
    cert = self.describe_certificate(certificate_id)
    if cert.status == "REVOKED" and new_status != "REVOKED":
        raise _ie.CertificateStateException("The certificate is revoked and cannot change status.", certificate_id)
    return _update(self, certificate_id, new_status)
_im.IoTBackend.update_certificate = _update_certificate
_register = _im.IoTBackend.register_certificate
def _register_certificate(self, certificate_pem, ca_certificate_pem, set_as_active, status):
    if ca_certificate_pem:
        ca = next((c for c in self.ca_certificates.values() if c.certificate_pem == ca_certificate_pem), None)
        if ca is None or ca.status != "ACTIVE":
            raise _CertificateValidation("The CA certificate is not registered or not ACTIVE.")
        try:
            _x509.load_pem_x509_certificate(certificate_pem.encode()).verify_directly_issued_by(
                _x509.load_pem_x509_certificate(ca_certificate_pem.encode()))
        except Exception as e:
            raise _CertificateValidation("The certificate is not signed by the CA: %s" % e)
    return _register(self, certificate_pem, ca_certificate_pem, set_as_active, status)
_im.IoTBackend.register_certificate = _register_certificate

# A Thing without a thing type may carry at most three attributes on AWS.
_create_thing = _im.IoTBackend.create_thing
def _create_thing_checked(self, thing_name, thing_type_name, attribute_payload, *args, **kwargs):
    attrs = (attribute_payload or {}).get("attributes") or {}
    if not thing_type_name and len(attrs) > 3:
        raise _ie.InvalidRequestException("A thing without a thing type can have at most 3 attributes.")
    return _create_thing(self, thing_name, thing_type_name, attribute_payload, *args, **kwargs)
_im.IoTBackend.create_thing = _create_thing_checked

# IoT ListCACertificates is not implemented in moto; AWS answers the
# account's CA certificates.
from moto.iot import responses as _ir
from moto.core.responses import ActionResult as _ActionResult
def _list_ca_certificates(self):
    certs = [c.to_dict() for c in self.iot_backend.ca_certificates.values()]
    for c in certs:
        c.pop("caCertificateId", None)
    return _ActionResult({"certificates": certs})
_ir.IoTResponse.list_ca_certificates = _list_ca_certificates

# DynamoDB conditional writes are atomic on AWS; moto's threaded server
# checks the condition and writes in separate steps, so two concurrent
# writers expecting one version could both succeed. Serialise the writes.
import functools as _ft
import threading as _th
from moto.dynamodb import models as _dm
_ddb_lock = _th.RLock()
def _serialised(fn):
    @_ft.wraps(fn)
    def wrapper(*args, **kwargs):
        with _ddb_lock:
            return fn(*args, **kwargs)
    return wrapper
for _name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item"):
    setattr(_dm.DynamoDBBackend, _name, _serialised(getattr(_dm.DynamoDBBackend, _name)))

# IoT Core's registry is consistent per call on AWS; moto's IoT backend
# mutates shared dicts from concurrent request threads. One call at a time.
_iot_lock = _th.RLock()
def _iot_serialised(fn):
    @_ft.wraps(fn)
    def wrapper(*args, **kwargs):
        with _iot_lock:
            return fn(*args, **kwargs)
    return wrapper
for _name, _fn in list(vars(_im.IoTBackend).items()):
    if callable(_fn) and not _name.startswith("_"):
        setattr(_im.IoTBackend, _name, _iot_serialised(_fn))

from moto.server import main
main(sys.argv[1:])

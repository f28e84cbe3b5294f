"""The official Azure IoT device SDK for Python (azure-iot-device) as a client of our hub over TLS.

Usage: azure_sdk_client.py sas HOST CA_FILE COUNT CONNECTION_STRING
       azure_sdk_client.py x509 HOST CA_FILE COUNT DEVICE_ID CERT_FILE KEY_FILE
Connects (the SDK's MQTT over TLS, port 8883, the hub's certificate verified against CA_FILE), sends COUNT
telemetry messages (each acknowledged), disconnects; prints "sent N", or "refused CLASS" when the connect fails.
"""
import sys

from azure.iot.device import IoTHubDeviceClient, Message, X509


def main():
    mode, host, ca_file, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(ca_file) as f:
        ca = f.read()
    if mode == "sas":
        client = IoTHubDeviceClient.create_from_connection_string(
            sys.argv[5], server_verification_cert=ca, connection_retry=False, keep_alive=30
        )
    else:
        device_id, cert_file, key_file = sys.argv[5], sys.argv[6], sys.argv[7]
        client = IoTHubDeviceClient.create_from_x509_certificate(
            X509(cert_file, key_file), hostname=host, device_id=device_id, server_verification_cert=ca,
            connection_retry=False, keep_alive=30,
        )
    try:
        client.connect()
    except Exception as e:  # the SDK's own error class is what the test checks
        print("refused", type(e).__name__)
        client.shutdown()
        return
    for i in range(count):
        client.send_message(Message("sdk message %d" % i))
    client.shutdown()
    print("sent", count)


if __name__ == "__main__":
    main()

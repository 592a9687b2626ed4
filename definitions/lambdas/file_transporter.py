"""Seed D's file-transporter-lambda (its source is not published; written from the seed's
description of its inputs and outputs): reads an object from S3 and uploads it over SFTP
to `sftp_path/<file_name>`, creating missing remote folders. `config` gives `sftp_host`,
`sftp_port`, `sftp_user`, and `sftp_password` or `sftp_key_file` (a private key).
A failure is returned as `{"status": "failed", "error", "error_type"}` (the state machine's
TransportFailed state reads both). ShareFile uploads are not supported here."""

import io
import posixpath

import boto3

s3 = boto3.client("s3")


def failed(error, error_type):
    return {"status": "failed", "error": str(error), "error_type": error_type}


def lambda_handler(event, context):
    transporter = event.get("transporter") or {}
    kind, config = transporter.get("type"), transporter.get("config") or {}
    if kind != "sftp":
        return failed(f"transporter type {kind!r} is not supported (sftp is)", "UnsupportedTransporter")
    try:
        import paramiko
    except ImportError as exc:
        return failed(f"the SFTP library is missing: {exc}", "ImportError")
    try:
        body = s3.get_object(Bucket=event["source_bucket"], Key=event["source_key"])["Body"].read()
        transport = paramiko.Transport((config["sftp_host"], int(config.get("sftp_port", 22))))
        try:
            if config.get("sftp_key_file"):
                key = paramiko.PKey.from_path(config["sftp_key_file"])
                transport.connect(username=config["sftp_user"], pkey=key)
            else:
                transport.connect(username=config["sftp_user"], password=config.get("sftp_password"))
            sftp = paramiko.SFTPClient.from_transport(transport)
            remote = posixpath.join(config.get("sftp_path", "."), event["file_name"])
            folder = posixpath.dirname(remote)
            partial = ""
            for part in [p for p in folder.split("/") if p]:
                partial = f"{partial}/{part}" if (partial or folder.startswith("/")) else part
                try:
                    sftp.stat(partial)
                except OSError:
                    sftp.mkdir(partial)
            sftp.putfo(io.BytesIO(body), remote)
            return {"status": "success", "destination": f"sftp://{config['sftp_host']}:{config.get('sftp_port', 22)}{remote}",
                    "bytes": len(body)}
        finally:
            transport.close()
    except Exception as exc:
        return failed(exc, type(exc).__name__)

"""A local handler for handlers.sfntest.yaml: charges up to 100, declines more."""


class CardDeclined(Exception):
    pass


def handler(event, context):
    if event["amount"] > 100:
        raise CardDeclined(f"{event['amount']} is over the limit")
    return {"charged": event["amount"], "function": context.function_name}

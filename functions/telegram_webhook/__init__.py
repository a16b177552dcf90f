"""telegram_webhook: the owner's remote control: Telegram's commands, the status API and its page."""

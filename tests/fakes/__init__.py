"""Local fakes of provider APIs (Telegram, Twilio) that tests run the real clients against."""

"""Scheduling: school calendars, availability, appointments, reminders and iCal feeds."""

"""The experience app's data: surveys and feedback, service requests and SLAs, the loyalty
program, and customer education. One module per part; every model is importable from here."""

from experience.models.education import Attendance, Resource, Session
from experience.models.feedback import FeedbackItem, ImprovementAction
from experience.models.loyalty import LoyaltyProgram, LoyaltyTier, PointsEntry
from experience.models.service import BusinessCalendar, ServiceNote, ServiceRequest, SlaPolicy
from experience.models.surveys import Survey, SurveyInvitation, SurveyQuestion, SurveyResponse

__all__ = [
    "Attendance",
    "BusinessCalendar",
    "FeedbackItem",
    "ImprovementAction",
    "LoyaltyProgram",
    "LoyaltyTier",
    "PointsEntry",
    "Resource",
    "ServiceNote",
    "ServiceRequest",
    "Session",
    "SlaPolicy",
    "Survey",
    "SurveyInvitation",
    "SurveyQuestion",
    "SurveyResponse",
]

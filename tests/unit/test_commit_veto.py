"""An error answer commits nothing, unless the view explicitly keeps its writes."""

from pyramid.request import Request
from pyramid.response import Response

from datameta.db import commit_despite_error, commit_veto


def test_success_answers_commit():
    assert commit_veto(Request.blank("/"), Response(status=200)) is False
    assert commit_veto(Request.blank("/"), Response(status=302)) is False


def test_error_answers_abort():
    assert commit_veto(Request.blank("/"), Response(status=400)) is True
    assert commit_veto(Request.blank("/"), Response(status=500)) is True


def test_a_view_may_keep_its_writes_despite_an_error_answer():
    request = Request.blank("/")
    commit_despite_error(request)
    assert commit_veto(request, Response(status=401)) is False

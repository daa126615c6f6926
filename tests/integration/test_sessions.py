"""Sessions live in memcached; the cookie carries only a signed random id."""

from pyramid.request import Request
from pyramid.response import Response

from datameta.sessions import KEY_PREFIX, MemcachedStore, SessionFactory


def make_factory(settings):
    store = MemcachedStore(settings.memcached_servers)
    return SessionFactory(
        store, secret=settings.session_secret, cookie_name="datameta", secure=True, timeout=60
    )


def respond(request):
    """Run the response callbacks as Pyramid does when a response goes out."""
    response = Response()
    request._process_response_callbacks(response)
    return response


def cookie_of(response):
    header = response.headers["Set-Cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


def test_a_session_round_trips_through_memcached(settings):
    factory = make_factory(settings)
    first = Request.blank("/")
    session = factory(first)
    session["user_id"] = 42
    response = respond(first)
    cookie = cookie_of(response)
    assert "HttpOnly" in response.headers["Set-Cookie"]
    assert "SameSite=Lax" in response.headers["Set-Cookie"]
    assert "secure" in response.headers["Set-Cookie"].lower()
    # The cookie names the session but holds none of its data: what is signed is the id.
    assert factory.serializer.loads(cookie.encode()) == session.session_id

    second = Request.blank("/", headers={"Cookie": f"datameta={cookie}"})
    loaded = factory(second)
    assert loaded["user_id"] == 42
    assert not loaded.new
    assert factory.store.client.get(KEY_PREFIX + loaded.session_id) is not None


def test_the_cookie_does_not_grow_with_the_session_data(settings):
    factory = make_factory(settings)
    small, large = Request.blank("/"), Request.blank("/")
    factory(small)["note"] = "x"
    factory(large)["note"] = "x" * 10_000
    assert len(cookie_of(respond(small))) == len(cookie_of(respond(large)))


def test_session_ids_are_random(settings):
    factory = make_factory(settings)
    ids = {factory(Request.blank("/")).session_id for _ in range(100)}
    assert len(ids) == 100
    assert all(len(session_id) >= 43 for session_id in ids)  # 32 random bytes, base64


def test_a_forged_cookie_gives_a_fresh_empty_session(settings):
    factory = make_factory(settings)
    request = Request.blank("/", headers={"Cookie": "datameta=forged-session-id"})
    session = factory(request)
    assert session.new
    assert dict(session) == {}


def test_an_untouched_new_session_sets_no_cookie(settings):
    factory = make_factory(settings)
    request = Request.blank("/")
    factory(request)
    assert "Set-Cookie" not in respond(request).headers


def test_invalidating_removes_the_old_session_from_memcached(settings):
    factory = make_factory(settings)
    first = Request.blank("/")
    session = factory(first)
    session["user_id"] = 7
    cookie = cookie_of(respond(first))
    old_id = session.session_id

    second = Request.blank("/", headers={"Cookie": f"datameta={cookie}"})
    loaded = factory(second)
    loaded.invalidate()
    loaded["user_id"] = 8  # e.g. a new login: a new id, never the old one
    response = respond(second)
    assert factory.store.load(old_id) is None
    assert loaded.session_id != old_id
    assert cookie_of(response) != cookie


def test_the_csrf_token_is_kept_in_the_session(settings):
    factory = make_factory(settings)
    request = Request.blank("/")
    session = factory(request)
    token = session.get_csrf_token()
    assert session.get_csrf_token() == token
    assert session.new_csrf_token() != token


def test_a_saved_session_is_there_for_the_very_next_request_on_another_connection(settings):
    # Two stores: two connection pools, as two app threads or processes have.
    writer = MemcachedStore(settings.memcached_servers)
    reader = MemcachedStore(settings.memcached_servers)
    missing = 0
    for number in range(300):
        session_id = f"race-{number}-{id(writer)}"
        writer.save(session_id, {"user_id": number, "padding": "x" * 2000}, ttl=30)
        if reader.load(session_id) is None:
            missing += 1
    assert missing == 0

from django.urls import path

from frontend import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("projects/<int:project_id>/label/", views.label, name="label"),
    path("projects/<int:project_id>/consistency/", views.consistency, name="consistency"),
]
